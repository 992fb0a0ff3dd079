"""NATS-Bench SSS: the channel-configuration network, its closed-form size, and the space."""
