"""recipes/ablation_table.py: rows from real results.json files."""

import doctest
import importlib.util
from pathlib import Path

import pytest

from seed_brain.scoring import write_results

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location(
    "ablation_table", ROOT / "recipes" / "ablation_table.py"
)
ablation_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ablation_table)


def _cond(name, base, seed):
    return {
        "name": name,
        "n_target": 900,
        "n_nontarget": 9000,
        "baseline": {"eer": base, "min_dcf": 0.8},
        "seed": {"eer": seed, "min_dcf": 0.6},
    }


def test_doctests():
    assert doctest.testmod(ablation_table).failed == 0


def test_table_from_results_folders(tmp_path, capsys):
    a = {
        "backbone": "x",
        "conditions": [_cond("clean", 0.3, 0.2), _cond("noise", 20.0, 13.0)],
        "dev": {
            "n_target": 1,
            "n_nontarget": 1,
            "baseline": {"eer": 18.0, "min_dcf": 1.0},
            "seed": {"eer": 10.0, "min_dcf": 1.0},
            "clean": {
                "baseline": {"eer": 1.9, "min_dcf": 0.1},
                "seed": {"eer": 2.0, "min_dcf": 0.1},
            },
        },
        "mean_noisy_eer_change_ci": {
            "relative": -35.0,
            "relative_ci": [-38.0, -31.5],
            "delta": -7.0,
            "delta_ci": [-8.0, -6.0],
            "n_conditions": 1,
            "n_valid": 10,
        },
        "test_sets": {
            "heldout_short": {
                "n_target": 1,
                "n_nontarget": 9,
                "conditions": [
                    _cond("clean", 2.5, 2.4),
                    _cond("noise", 16.0, 11.0),
                ],
            }
        },
    }
    write_results(a, tmp_path / "a")
    b = {"backbone": "x", "conditions": [_cond("noise", 20.0, 15.0)]}
    write_results(b, tmp_path / "b")
    ablation_table.main([f"A=1={tmp_path / 'a'}", f"B={tmp_path / 'b'}"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("| run |") and len(lines) == 4
    assert lines[2] == (
        "| A=1 | 18.00 -> 10.00 | 1.90 -> 2.00 | 0.300 -> 0.200 | "
        "20.00 -> 13.00 | -35.0 % [-38.0, -31.5] | 0.800 -> 0.600 | "
        "2.50 -> 2.40 | 16.00 -> 11.00 |"
    )
    assert lines[3] == (
        "| B | - | - | - | 20.00 -> 15.00 | -25.0 % | 0.800 -> 0.600 | - | - |"
    )
    with pytest.raises(SystemExit):
        ablation_table.main([f"C={tmp_path / 'missing'}"])
