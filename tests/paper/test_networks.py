"""Models 1-3 described once as data, with the shapes of the paper's tables (:mod:`beetles.paper.networks`)."""
from beetles.paper.networks import MODELS, layer_table, training_flops


def test_layer_tables_match_the_paper():
    table = layer_table(3, 8)
    assert [r["name"] for r in table] == [
        "conv1", "pool1", "dropout1", "conv2", "pool2", "dropout2", "conv3", "pool3", "dropout3",
        "hidden4", "dropout4", "hidden5", "output",
    ]
    by_name = {r["name"]: r for r in table}
    assert by_name["pool3"]["output_shape"] == (128, 23, 31)
    assert by_name["hidden4"]["params"] == 128 * 23 * 31 * 1000 + 1000  # ≈ 91.3 M
    assert round(sum(r["params"] for r in table) / 1e6, 1) == 92.3
    assert [r["output_shape"] for r in layer_table(1, 8)][-3:] == [(500,), (500,), (16,)]
    assert not any(r["kind"] == "dropout" for r in layer_table(2, 8))
    assert len(MODELS) == 3


def test_training_flops_of_model3():
    assert round(training_flops(3, 8) / 1e9, 2) == 1.78  # GFLOP per training sample (issue 17)
