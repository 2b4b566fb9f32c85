"""Rules of a user's own (``[rules.NAME]``): compiled for every kernel, checked when the
grid is read, swept like the built-ins."""
import sys
import textwrap

import numpy as np
import pytest

import sweep
from sweep import cli
from sweep.errors import ConfigError

# Heavy-ball momentum written as a user would: the built-in's arithmetic, so the bits match.
MY_RULES = '''
import math


def my_momentum(theta, grad, state, t, h):
    buf = h.beta1 * state[0] + grad
    return theta - h.alpha * buf, (buf,)


def signum_clipped(theta, grad, state, t, h):
    m = h.beta1 * state[0] + (1.0 - h.beta1) * grad
    step = min(max(m, -h.clip), h.clip)
    return theta - h.alpha * math.copysign(1.0, step) * abs(step), (m,)
'''


def write_rules(folder, text=MY_RULES):
    path = folder / "my_rules.py"
    path.write_text(textwrap.dedent(text))
    return path


def table(folder, optimizers, grid=None, rules=None, noise=0.0, schedule="constant"):
    return {
        "sweep": {"optimizers": optimizers, "steps": 50, "schedule": schedule},
        "schedule": {"warmup": 5} if schedule != "constant" else {},
        "objective": {"name": "rosenbrock", "start": [[-1.2, 1.0], [0.5, 0.5]], "noise": noise,
                      "seeds": [0, 1] if noise else [0]},
        "grid": grid or {"alpha": [1e-3, 1e-2], "beta1": [0.5, 0.9]},
        "rules": rules if rules is not None else {
            "my_momentum": {"file": str(folder / "my_rules.py"), "function": "my_momentum",
                            "hyperparameters": {"alpha": 1e-3, "beta1": 0.9},
                            "state": ["buffer"]},
            "signum_clipped": {"file": str(folder / "my_rules.py"),
                               "function": "signum_clipped",
                               "hyperparameters": {"alpha": 1e-3, "beta1": 0.9, "clip": 1.0},
                               "state": ["m"]}},
    }


METRICS = ("final_loss", "best_loss", "final_x", "steps_to_tol", "diverged")


@pytest.mark.parametrize("kernel", ["simple", "lockstep"])
def test_a_user_rule_gives_the_bits_of_the_built_in_it_copies(tmp_path, kernel):
    """With gradient noise and a warm-up schedule, on both CPU kernels."""
    write_rules(tmp_path)
    built_in = sweep.run(table(tmp_path, ["momentum"], noise=0.1, schedule="cosine"),
                         kernel=kernel)
    mine = sweep.run(table(tmp_path, ["my_momentum"], noise=0.1, schedule="cosine"),
                     kernel=kernel)
    for name in METRICS:
        np.testing.assert_array_equal(mine[name].values, built_in[name].values, err_msg=name)
    assert np.isfinite(mine["final_loss"].values).any()


def test_lockstep_is_simple_for_a_user_rule_and_its_own_hyperparameter_is_an_axis(tmp_path):
    write_rules(tmp_path)
    grid = {"alpha": [1e-3, 1e-2], "beta1": [0.9], "clip": [0.01, 0.1, 1.0]}
    fast = sweep.run(table(tmp_path, ["signum_clipped", "adam"], grid), kernel="lockstep")
    simple = sweep.run(table(tmp_path, ["signum_clipped", "adam"], grid), kernel="simple")
    for name in METRICS:
        np.testing.assert_array_equal(fast[name].values, simple[name].values, err_msg=name)
    assert fast.sizes["clip"] == 3
    clipped = fast["final_x"].sel(optimizer="signum_clipped")
    assert not np.array_equal(clipped.sel(clip=0.01), clipped.sel(clip=1.0))
    adam = fast["final_x"].sel(optimizer="adam")  # adam does not read clip: broadcast
    assert (adam == adam.isel(clip=0)).all()
    fixed = sweep.run(table(tmp_path, ["signum_clipped"], {"alpha": [1e-3, 1e-2], "beta1": [0.9]})
                      | {"options": {"signum_clipped": {"clip": 0.1}}})
    np.testing.assert_array_equal(fixed["final_x"].values,
                                  fast["final_x"].sel(optimizer=["signum_clipped"],
                                                      clip=0.1).values)


def test_an_edited_file_is_compiled_again(tmp_path):
    write_rules(tmp_path)
    before = sweep.run(table(tmp_path, ["my_momentum"]))
    write_rules(tmp_path, MY_RULES.replace("theta - h.alpha * buf", "theta - 0.5 * h.alpha * buf"))
    after = sweep.run(table(tmp_path, ["my_momentum"]))
    assert not np.array_equal(before["final_x"].values, after["final_x"].values)


BROKEN = {
    "does not compile": ("def my_momentum(theta, grad, state, t, h):\n"
                         "    return theta - h.alpha * grad.real_part, (grad,)\n",
                         "numba cannot compile my_momentum (line 2)"),
    "wrong arity": ("def my_momentum(theta, grad, state, h):\n    return theta, state\n",
                    "takes 4 arguments; it must take exactly (theta, grad, state, t, h)"),
    "wrong state": ("def my_momentum(theta, grad, state, t, h):\n"
                    "    return theta - h.alpha * grad, (grad, grad)\n",
                    "returns a state of 2 values; the rule declares 1 (buffer)"),
    "a syntax error": ("def my_momentum(theta, grad, state, t, h)\n    return theta, state\n",
                       "line 1"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_rule_is_a_configuration_error_naming_the_file_and_key(tmp_path, case, capsys):
    source, words = BROKEN[case]
    write_rules(tmp_path, source)
    grid = table(tmp_path, ["my_momentum"])
    del grid["rules"]["signum_clipped"]
    with pytest.raises(ConfigError) as raised:
        sweep.run(grid)
    message = str(raised.value)
    assert "rules.my_momentum.file" in message and words in message, message
    # The command line: exit 2, one message, nothing written.
    path = tmp_path / "grid.toml"
    path.write_text(_toml(grid))
    assert cli.main([str(path), "-o", str(tmp_path / "out.nc")]) == 2
    assert words in capsys.readouterr().err
    assert not (tmp_path / "out.nc").exists()


def test_a_rule_file_with_the_old_kernels_import_says_what_to_write(tmp_path, monkeypatch):
    """The engine's package was a top-level `kernels`: a rule file importing it is refused
    with the file's line rewritten for sweep.kernels."""
    monkeypatch.setitem(sys.modules, "kernels", None)  # import kernels: ModuleNotFoundError
    write_rules(tmp_path, "from kernels.maths import sqrt\n\n\n"
                          "def my_momentum(theta, grad, state, t, h):\n"
                          "    return theta - h.alpha * grad / sqrt(1.0 + t), (grad,)\n")
    grid = table(tmp_path, ["my_momentum"])
    del grid["rules"]["signum_clipped"]
    with pytest.raises(ConfigError) as raised:
        sweep.run(grid)
    message = str(raised.value)
    assert "rules.my_momentum.file" in message and "imports 'kernels'" in message, message
    assert "write 'from sweep.kernels.maths import sqrt' (my_rules.py, line 1)" in message


def test_names_that_clash_or_are_missing(tmp_path):
    write_rules(tmp_path)
    clash = table(tmp_path, ["adam"])
    clash["rules"] = {"adam": clash["rules"]["my_momentum"]}
    with pytest.raises(ConfigError, match=r"rules\.adam.*clashes with the built-in rule"):
        sweep.run(clash)
    no_alpha = table(tmp_path, ["my_momentum"])
    no_alpha["rules"]["my_momentum"]["hyperparameters"] = {"beta1": 0.9}
    with pytest.raises(ConfigError, match=r"rules\.my_momentum\.hyperparameters.*must name alpha"):
        sweep.run(no_alpha)
    unknown = table(tmp_path, ["my_momentum"])
    unknown["rules"]["my_momentum"]["stat"] = ["buffer"]
    with pytest.raises(ConfigError, match=r"rules\.my_momentum\.stat.*unknown key"):
        sweep.run(unknown)


def test_sweep_list_shows_the_built_in_rules_hyperparameters(capsys):
    assert cli.main(["list"]) == 0
    text = capsys.readouterr().out
    assert "adamw" in text and "weight_decay = 0.01" in text and "centered = false" in text


def _toml(table) -> str:
    """A small TOML writer for these tables (strings, numbers, bools, lists, nested tables)."""
    lines = []

    def value(item):
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, str):
            return '"' + item.replace("\\", "\\\\") + '"'
        if isinstance(item, list):
            return "[" + ", ".join(value(v) for v in item) + "]"
        if isinstance(item, dict):
            return "{" + ", ".join(f"{k} = {value(v)}" for k, v in item.items()) + "}"
        return repr(item)

    def section(name, body):
        scalars = {k: v for k, v in body.items() if not isinstance(v, dict) or name == "grid"}
        lines.append(f"[{name}]")
        lines.extend(f"{k} = {value(v)}" for k, v in scalars.items())
        for key, inner in body.items():
            if isinstance(inner, dict) and name != "grid":
                section(f"{name}.{key}", inner)

    for name, body in table.items():
        section(name, body)
    return "\n".join(lines) + "\n"
