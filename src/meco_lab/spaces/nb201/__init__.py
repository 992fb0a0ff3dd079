"""NAS-Bench-201 / NATS-Bench TSS: the cell, the network (xautodl names), fast probes, the supernet, the space."""
