"""Run the CLI on the demo and the Bao'an data and keep plan.csv / summary.json, or compare two such runs.

A refactor must not change a plan: run this before (``python tools/same_outputs.py run BEFORE_DIR``), change the
code, run it again into AFTER_DIR and ``python tools/same_outputs.py compare BEFORE_DIR AFTER_DIR``.  Timings
(every key holding "seconds", and the CP-SAT round counts that follow the clock) are left out of the comparison;
with two CP-SAT workers the bound and the cuts found in a given time vary run to run, so the runs use one worker.

    PYTHONPATH=/path/to/other/checkout/src python tools/same_outputs.py run /tmp/before
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SHARED = ROOT.parent / "shared" / "data"
BAOAN = DATA / "shenzhen_baoan_xuequ2" / "schools_xuequ2_gcj02.geojson"


def _baoan_csvs(tmp: Path) -> tuple[Path, Path]:
    """第二学区 primary schools as 小区 points, junior-middle schools as the schools (GBK, GCJ-02), as in the tests."""
    d = pd.read_csv(SHARED / "shenzhen_baoan_2024" / "schools.csv")
    d = d[d["lon_gcj02"].notna()]
    prim, mid = d[d["stage"] == "primary"], d[d["stage"] == "junior_middle"]
    bp, sp = tmp / "小区.csv", tmp / "学校.csv"
    pd.DataFrame(
        {
            "小区名称": prim["school_name"],
            "适龄儿童": prim["grade1_classes_2024"] * 45,
            "经度": prim["lon_gcj02"],
            "纬度": prim["lat_gcj02"],
        }
    ).to_csv(bp, index=False, encoding="gbk")
    pd.DataFrame(
        {
            "学校名称": mid["school_name"],
            "学段": "初中",
            "招生班数": mid["grade1_classes_2024"],
            "经度": mid["lon_gcj02"],
            "纬度": mid["lat_gcj02"],
        }
    ).to_csv(sp, index=False, encoding="gbk")
    return bp, sp


def run(dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(tempfile.gettempdir()) / "zoning-same-outputs"  # fixed: the paths in summary.json match
        tmp.mkdir(exist_ok=True)
        bp, sp = _baoan_csvs(tmp)
        jobs = {
            "demo": ["demo"],
            "demo_one_worker": [
                "partition",
                str(DATA / "south_portland_me" / "blocks.geojson"),
                str(DATA / "south_portland_me" / "schools.geojson"),
                "--students-col",
                "students_k4",
                "--current-school-col",
                "current_school_plurality",
                "--workers",
                "1",
            ],
            "baoan_partition": [
                "partition",
                str(bp),
                str(sp),
                "--coords",
                "gcj02",
                "--allow-overload",
                "--time-limit",
                "30",
                "--workers",
                "1",
            ],
            "baoan_districts": [
                "districts",
                str(BAOAN),
                "--coords",
                "gcj02",
                "--classes-col",
                "grade1_classes_2024",
                "--districts",
                "4",
                "--require-stage",
                "junior_middle=1",
                "--time-limit",
                "20",
                "--workers",
                "1",
            ],
        }
        for name, args in jobs.items():
            out = Path(scratch) / name
            cmd = [
                sys.executable,
                "-c",
                "import sys; from zoning.cli import main; sys.exit(main())",
                *args,
                "--out",
                str(out),
            ]
            r = subprocess.run(cmd, capture_output=True, text=True)
            (dest / f"{name}.stdout").write_text(r.stdout + r.stderr, encoding="utf-8")
            print(f"{name}: exit {r.returncode}")
            for f in ("plan.csv", "summary.json"):
                if (out / f).exists():
                    (dest / f"{name}.{f}").write_bytes((out / f).read_bytes())


#: What CP-SAT's two workers (``zoning demo`` has no --workers) prove in a given time: it varies run to run.
_BOUND_KEYS = ("lower_bound", "gap", "one_piece_cuts", "bound_source")


def _strip(obj, bound: bool = False):
    if isinstance(obj, dict):
        return {
            k: _strip(v, bound)
            for k, v in obj.items()
            if "seconds" not in k and k != "rounds" and not (bound and k.startswith(_BOUND_KEYS))
        }
    if isinstance(obj, list):
        return [_strip(v, bound) for v in obj]
    return obj


def compare(a: Path, b: Path) -> int:
    bad = 0
    for fa in sorted(a.glob("*.plan.csv")) + sorted(a.glob("*.summary.json")):
        fb = b / fa.name
        if not fb.exists():
            print(f"{fa.name}: missing in {b}")
            bad += 1
            continue
        if fa.suffix == ".json":
            two = fa.name.startswith("demo.")
            same = _strip(json.loads(fa.read_text("utf-8")), two) == _strip(
                json.loads(fb.read_text("utf-8")), two
            )
        else:
            same = fa.read_bytes() == fb.read_bytes()
        print(f"{fa.name}: {'same' if same else 'DIFFERENT'}")
        bad += not same
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run(Path(sys.argv[2]))
    else:
        sys.exit(compare(Path(sys.argv[2]), Path(sys.argv[3])))
