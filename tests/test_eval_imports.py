"""`vssl eval` stays light: it imports neither Lightning (pre-training's) nor torch._dynamo (torch.optim's)."""

import json
import subprocess
import sys

from vssl.core.config import to_dict

from conftest import micro_eval_config

CODE = """
import json, sys
import vssl.app.evaluate as evaluate
from vssl.core.config import from_dict
results = evaluate.run_eval(["knn", "linear", "finetune"], from_dict(evaluate.EvalConfig, json.loads(sys.argv[1])))
print(len(results), *(name in sys.modules for name in ("lightning", "torch._dynamo")))
"""


def test_eval_imports_neither_lightning_nor_dynamo(micro_manifest, tmp_path):
    config = micro_eval_config(micro_manifest, tmp_path, "finetune.epochs=1", "finetune.batch_size=8")
    run = subprocess.run([sys.executable, "-c", CODE, json.dumps(to_dict(config))], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["12", "False", "False"]  # 3 protocols × 2 label sets × 2 metrics
