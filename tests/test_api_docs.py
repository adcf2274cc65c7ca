"""docs/api.md runs: its ```python blocks are executed in order, in one namespace, in an empty folder."""

import re
import time
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", DOC.read_text(), flags=re.S | re.M)


def test_doc_has_an_example_per_entry_point():
    code = "\n".join(BLOCKS)
    for call in ("vssl.models.create(", "pretrained=", "vssl.models.load_pretrained(", "vssl.data.synthesize(",
                 "vssl.data.VideoReader(", "vssl.pretrain(", "vssl.evaluate(", "vssl.results.load("):
        assert call in code, call


def test_api_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    start = time.perf_counter()
    for number, block in enumerate(BLOCKS, 1):
        exec(compile(block, f"{DOC.name} block {number}", "exec"), namespace)
    assert time.perf_counter() - start < 60
    out = capsys.readouterr().out
    assert "r2plus1d_k400.pth (vssl keys in 'state_dict' under 'module.')" in out
    assert (tmp_path / "runs" / "vcop" / "encoder.pt").is_file()
    results = namespace["results"]
    assert {(r.protocol, r.label) for r in results} == {(p, label) for p in ("knn", "linear")
                                                        for label in ("motion", "appearance")}
    assert {r.encoder for r in results} == {"vcop"} and "vcop" in out
