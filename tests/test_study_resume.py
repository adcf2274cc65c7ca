"""A resumed study recognises finished retrieval and SVM evaluations (stored as retrieval@<tap>, svm@<tap>)."""

from vssl.app import study as study_module
from vssl.app.study import StudyConfig, evaluated_protocol, run_study
from vssl.results.store import ResultStore

SMALL_EVAL = ("data.clip_len=4", "data.num_clips=2", "data.crop_size=24", "data.short_side=24", "data.num_workers=0",
              "encoder.width=0.125", "encoder.depth=[1,1,1,1]", "knn.k=3")


def test_stored_names_map_back_to_their_protocol():
    assert [evaluated_protocol(n) for n in ("knn", "linear", "finetune", "retrieval@layer3", "svm@pool5",
                                            "svm@aslan")] == ["knn", "linear", "finetune", "retrieval", "svm", "svm"]


def test_a_study_resumed_twice_does_not_evaluate_again(micro_manifest, tmp_path, monkeypatch):
    calls = []
    real_run_eval = study_module.run_eval

    def counted(protocols, config):
        calls.append(list(protocols))
        return real_run_eval(protocols, config)

    monkeypatch.setattr(study_module, "run_eval", counted)
    config = StudyConfig(manifest=str(micro_manifest), seeds=1, eval_preset="synthetic_tiny", eval_overrides=SMALL_EVAL,
                         protocols=("knn", "retrieval", "svm"), references=("random",), runs={})
    for _ in range(3):  # the first run evaluates; both resumes find every protocol in the store
        run_study(config, tmp_path / "out", progress=False)
    assert calls == [["knn", "retrieval", "svm"]]
    stored = {r.protocol for r in ResultStore(tmp_path / "out" / "results.sqlite").query()}
    assert "knn" in stored and len(stored) == 3
    assert {name.split("@")[0] for name in stored} == {"knn", "retrieval", "svm"}  # stored under tap names
