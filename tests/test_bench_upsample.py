"""benchmarks.upsample: a smoke run, its JSON, usage errors (no timing asserted)."""

import json

from benchmarks import upsample


def test_quick_run_checks_and_writes_json(tmp_path, capsys):
    out = tmp_path / "u.json"
    assert upsample.main(["--quick", "--repeats", "1", "--factors", "2", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert [r["variant"] for r in doc["results"]] == list(upsample.VARIANTS)
    assert all(r["factor"] == 2 and r["median_s"] > 0 for r in doc["results"])
    assert doc["results"][0]["over_upsampling2d"] == 1.0
    assert "bilinear_upsample2d" in capsys.readouterr().out


def test_bad_factors_exit_2(tmp_path, capsys):
    assert upsample.main(["--factors", "0,2"]) == 2
    assert upsample.main(["--factors", "two"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "--factors" in err and "Traceback" not in err
