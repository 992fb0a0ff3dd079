import pytest

from meco_lab.spaces.nb201.cell import OPS, format_arch, parse_arch
from meco_lab.spaces.nb201.space import nats_tss_archs


def test_every_nats_arch_round_trips():
    archs = nats_tss_archs()
    assert len(archs) == 15_625 == len(set(archs))
    assert all(format_arch(parse_arch(a)) == a for a in archs)


def test_space_covers_every_genotype_once():
    genotypes = {parse_arch(a) for a in nats_tss_archs()}
    assert len(genotypes) == len(OPS) ** 6


def test_parse_structure():
    g = parse_arch("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|")
    assert g == ((("nor_conv_3x3", 0),), (("none", 0), ("skip_connect", 1)),
                 (("avg_pool_3x3", 0), ("nor_conv_1x1", 1), ("none", 2)))


@pytest.mark.parametrize("bad", [
    "|nor_conv_3x3~0|+|none~0|skip_connect~1|",            # two nodes
    "|conv_5x5~0|+|none~0|skip_connect~1|+|none~0|none~1|none~2|",  # unknown op
    "|none~0|+|none~1|none~0|+|none~0|none~1|none~2|",      # inputs out of order
    "none~0|+|none~0|none~1|+|none~0|none~1|none~2|",       # missing bar
])
def test_parse_rejects_malformed(bad):
    with pytest.raises(ValueError, match="arch"):
        parse_arch(bad)
