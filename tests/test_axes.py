"""Any hyperparameter of a swept rule is a grid axis; ``[options.RULE]`` fixes one for one rule.

A cell of a new axis must have the bits of a run with that value fixed, a rule that
does not read the axis is computed once and broadcast over it, and the dataset says
which value each rule ran at.
"""
import numpy as np
import pytest

import sweep
from sweep.errors import ConfigError


def grid(optimizers, axes, options=None, steps=60):
    return {"sweep": {"optimizers": optimizers, "steps": steps},
            "objective": {"name": "rosenbrock", "start": [[-1.2, 1.0]]},
            "grid": {"alpha": [1e-3, 1e-2], **axes},
            "options": options or {}}


METRICS = ("final_loss", "best_loss", "final_x", "steps_to_tol", "diverged")


def assert_same(swept, fixed):
    for name in METRICS:
        np.testing.assert_array_equal(swept[name].values, fixed[name].values, err_msg=name)


def test_weight_decay_axis_gives_the_fixed_value_bits_and_adam_is_broadcast():
    weight_decays = [0.0, 1e-2, 0.3]
    swept = sweep.run(grid(["adam", "adamw"], {"weight_decay": weight_decays}))
    assert swept.sizes["weight_decay"] == 3
    assert swept["weight_decay"].attrs["long_name"] == "decoupled weight decay λ"
    assert "adamw (weight_decay)" in swept["weight_decay"].attrs["description"]
    for value in weight_decays:
        fixed = sweep.run(grid(["adamw"], {}, {"adamw": {"weight_decay": value}}))
        assert_same(swept.sel(optimizer=["adamw"], weight_decay=value), fixed)
    # adam does not read λ: one computation, the same values along the axis.
    adam = swept["final_x"].sel(optimizer="adam")
    assert (adam == adam.isel(weight_decay=0)).all()
    assert swept.attrs["computed_cells"] == 2 * 1 + 2 * 3
    assert not swept["uses_axis"].sel(optimizer="adam", axis="weight_decay")
    assert swept["uses_axis"].sel(optimizer="adamw", axis="weight_decay")


def test_a_flag_axis_and_two_rule_axes_at_once():
    swept = sweep.run(grid(["rmsprop", "nadam"], {"centered": [False, True],
                                                  "momentum_decay": [4e-3, 0.05]}))
    assert swept.sizes["centered"] == 2 and swept.sizes["momentum_decay"] == 2
    for centered in (False, True):
        fixed = sweep.run(grid(["rmsprop"], {}, {"rmsprop": {"centered": centered}}))
        assert_same(swept.sel(optimizer=["rmsprop"], centered=float(centered),
                              momentum_decay=4e-3), fixed)
    plain = swept["final_x"].sel(optimizer="rmsprop", centered=0.0)
    assert not np.array_equal(plain, swept["final_x"].sel(optimizer="rmsprop", centered=1.0))


def test_options_fix_a_hyperparameter_for_one_rule_and_the_dataset_says_so():
    """``[options.adam] beta2`` fixes adam's β₂ while adamax reads the axis."""
    table = grid(["adam", "adamax"], {"beta2": [0.9, 0.99]}, {"adam": {"beta2": 0.95}})
    swept = sweep.run(table)
    adam = swept["final_x"].sel(optimizer="adam")
    assert (adam.sel(beta2=0.9) == adam.sel(beta2=0.99)).all()
    alone = sweep.run(grid(["adam"], {"beta2": [0.95]}))
    np.testing.assert_array_equal(adam.sel(beta2=0.9).values,
                                  alone["final_x"].sel(optimizer="adam", beta2=0.95).values)
    assert "adam.beta2 = 0.95" in swept.attrs["options"]


def test_a_rule_runs_at_its_own_default_where_the_grid_leaves_an_axis_out():
    """Left out, an axis is not swept: each rule runs at its own default, and the dataset's
    ``options`` attribute lists it (a flag as true/false)."""
    swept = sweep.run(grid(["rmsprop", "adamw"], {}))
    assert "rmsprop.centered = false" in swept.attrs["options"]
    assert "adamw.weight_decay = 0.01" in swept.attrs["options"]


@pytest.mark.parametrize("axes, key, words", [
    ({"weight_decay": [-1.0]}, "grid.weight_decay[0]", "must be >= 0"),
    ({"momentum_decay": [0.1]}, "grid.momentum_decay", "unknown key"),
    ({"weight_decay": {"min": 0.0, "max": 1.0, "num": 2, "scale": "log"}},
     "grid.weight_decay.min", 'must be > 0 with scale = "log"'),
])
def test_a_bad_axis_names_the_key(axes, key, words):
    """``momentum_decay`` is nadam's: with adamw alone it is no axis of this grid."""
    with pytest.raises(ConfigError) as raised:
        sweep.run(grid(["adamw"], axes))
    message = str(raised.value)
    assert key in message and words in message, message


def test_a_flag_axis_takes_true_and_false_only():
    with pytest.raises(ConfigError, match=r"grid\.centered\[0\] = 1: must be true or false"):
        sweep.run(grid(["rmsprop"], {"centered": [1, 2]}))


def test_options_refuse_alpha_and_unknown_names():
    with pytest.raises(ConfigError, match=r"options\.adam\.weight_decay.*unknown key"):
        sweep.run(grid(["adam"], {}, {"adam": {"weight_decay": 0.1}}))
    with pytest.raises(ConfigError, match=r"options\.adam\.alpha.*unknown key"):
        sweep.run(grid(["adam"], {}, {"adam": {"alpha": 0.1}}))


def test_noise_warmup_and_factor_axes_give_the_fixed_value_bits():
    table = grid(["adam", "sgd"], {"noise": [0.0, 0.3], "warmup": [0, 10], "factor": [0.5, 0.1]})
    table["sweep"]["schedule"] = "step"
    table["schedule"] = {"every": 20}
    table["objective"]["seeds"] = 2
    swept = sweep.run(table)
    assert swept["final_loss"].dims[:6] == ("optimizer", "start", "seed", "noise", "warmup",
                                            "factor")
    for noise in (0.0, 0.3):
        for warmup in (0, 10):
            fixed_table = grid(["adam", "sgd"], {})
            fixed_table["sweep"]["schedule"] = "step"
            fixed_table["schedule"] = {"every": 20, "warmup": warmup, "factor": 0.1}
            fixed_table["objective"] |= {"seeds": 2, "noise": noise}
            assert_same(swept.sel(noise=noise, warmup=warmup, factor=0.1), sweep.run(fixed_table))
    varied = swept["final_x"].sel(optimizer="sgd")
    assert not np.array_equal(varied.sel(noise=0.0), varied.sel(noise=0.3))


def test_a_setting_axis_given_as_a_range_is_the_listed_values():
    ranged = sweep.run(grid(["sgd"], {"noise": {"min": 0.0, "max": 0.2, "num": 3},
                                      "factor": {"min": 0.1, "max": 10.0, "num": 3,
                                                 "scale": "log"}}))
    listed = sweep.run(grid(["sgd"], {"noise": [0.0, 0.1, 0.2], "factor": [0.1, 1.0, 10.0]}))
    np.testing.assert_allclose(ranged["noise"].values, [0.0, 0.1, 0.2], rtol=1e-15)
    assert ranged["factor"].attrs["scale"] == "log"
    assert_same(ranged, listed)
    final_x = ranged["final_x"]
    assert not np.array_equal(final_x.sel(noise=0.0).values, final_x.sel(noise=0.2).values)


def test_batch_size_and_l2_axes_of_a_model():
    def model_grid(**objective):
        return {"sweep": {"optimizers": ["adam", "sgd"], "steps": 30},
                "objective": {"model": "logistic", "data": "breast_cancer", **objective},
                "grid": {"alpha": [1e-2, 1e-1]}}

    table = model_grid()
    table["grid"] |= {"batch_size": [16, 64], "l2": [0.0, 1e-2]}
    swept = sweep.run(table)
    for batch_size in (16, 64):
        for l2 in (0.0, 1e-2):
            fixed = sweep.run(model_grid(batch_size=batch_size, l2=l2))
            assert_same(swept.sel(batch_size=batch_size, l2=l2), fixed)
            for name in ("test_error", "test_loss", "train_error"):
                np.testing.assert_array_equal(swept[name].sel(batch_size=batch_size, l2=l2).values,
                                              fixed[name].values)
    loss = swept["final_loss"].sel(optimizer="sgd")
    assert not np.array_equal(loss.sel(batch_size=16), loss.sel(batch_size=64))


@pytest.mark.parametrize("table_change, words", [
    (lambda t: t["grid"].update(noise=[0.1]) or t["objective"].update(noise=0.2),
     "grid.noise: is given in [objective] too"),
    (lambda t: t["grid"].update(batch_size=[8]),
     "grid.batch_size: is an axis of models on data (objective.model)"),
    (lambda t: t["objective"].update(name="quadratic", dim=2) or t["grid"].update(kappa=[10, 100]),
     "grid.kappa: is a parameter of the objective compiled into its kernel, not an axis"),
    (lambda t: t["grid"].update(warmup=[-1]), "grid.warmup[0] = -1: must be >= 0"),
    (lambda t: t["grid"].update(warmup={"min": 0, "max": 10, "num": 2}),
     "grid.warmup = {min = 0, max = 10, num = 2}: takes a list of whole numbers (or one), "
     "not a range"),
    (lambda t: t["grid"].update(noise={"min": -0.1, "max": 0.5, "num": 2}),
     "grid.noise.min = -0.1: must be >= 0"),
])
def test_a_bad_setting_axis_names_the_key(table_change, words):
    table = grid(["adam"], {})
    table_change(table)
    with pytest.raises(ConfigError) as raised:
        sweep.run(table)
    assert words in str(raised.value), str(raised.value)
