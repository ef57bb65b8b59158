"""A tiny lab source in the shape of docs/lab-style.md, for the workbook tests."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

OPENING = """# 99 Sample lab

**Situation.** The analytics team needs 2 objects in the lab bucket by 9:00.

**Cost on AWS:** about $0.00 &middot; **Time:** about 5 minutes

Exam task statements: MLS-C01 1.1, MLA-C01 1.1.
See https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
"""

SOLUTION_CELL = """s3 = lab.client("s3")
def put_two():
    ### BEGIN SOLUTION
    for key in ("data/a.txt", "data/b.txt"):
        s3.put_object(Bucket=lab.bucket, Key=key, Body=b"hello")
    ### END SOLUTION
put_two()
"""

CHECK_CELL = """from mllab.checks import requirement
with requirement(lab, "two-objects", mls=["1.1"], mla=["1.1"]) as req:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=lab.bucket, Prefix="data/").get("Contents", [])]
    req.expect(len(keys) == 2, f"found {len(keys)} objects under data/; put two")
    req.note(f"{len(keys)} objects")
"""


def sample_notebook(with_outputs: bool = False) -> nbformat.NotebookNode:
    """Return the sample lab source (a solution notebook)."""
    cells = [
        new_markdown_cell(OPENING),
        new_code_cell('from mllab import Lab\nlab = Lab("99-sample")\nlab'),
        new_markdown_cell(
            "## Requirement 1\nPut two objects under `data/`.\n"
            "<!-- BEGIN SOLUTION -->\nUse put_object twice.\n<!-- END SOLUTION -->\n"
            "<details><summary>Hint</summary>a loop</details>"
        ),
        new_code_cell(SOLUTION_CELL),
        new_code_cell(CHECK_CELL),
        new_code_cell("lab.close()"),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["mllab"] = {"cost_usd": 0.0}
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["widgets"] = {"noise": True}
    if with_outputs:
        nb.cells[1].outputs = [
            nbformat.v4.new_output("execute_result", {"text/plain": "Lab(...)"}, execution_count=1)
        ]
        nb.cells[1].execution_count = 1
    for i, c in enumerate(nb.cells):
        c.id = f"cell-{i}"
        c.metadata["collapsed"] = False
    return nb


def write_sample(folder: Path, name: str = "99_sample.ipynb", **kw: bool) -> Path:
    """Write the sample lab source into ``folder`` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    nbformat.write(sample_notebook(**kw), str(path))
    return path
