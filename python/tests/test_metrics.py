# The metric functions of the Python module against their definitions written out in NumPy (ROC points, AUC as
# Mann-Whitney with ties one half, TPR at FPR <= f, balanced accuracy), against evaluate's numbers, and the
# one-run audit's guess counting; plus input handling that must not copy or reinterpret (float32 scores, int
# masks). Run by ctest (python_metrics).
import numpy as np

import synpriv


def data(seed=0, S=4, M=60):
    rng = np.random.default_rng(seed)
    keep = rng.random((S, M)) < 0.5
    scores = rng.normal(size=(S, M)) + 0.8 * keep
    scores[0, :10] = np.round(scores[0, :10])  # ties
    return scores, keep


def test_roc_and_its_metrics_follow_their_definitions():
    scores, keep = data()
    s, m = scores.ravel(), keep.ravel()
    fpr, tpr, thr = synpriv.roc_curve(scores, keep)
    assert thr[0] == np.inf and fpr[0] == 0 and tpr[0] == 0 and fpr[-1] == 1 and tpr[-1] == 1
    distinct = np.unique(s)[::-1]
    np.testing.assert_array_equal(thr[1:], distinct)
    P, N = m.sum(), (~m).sum()
    np.testing.assert_array_equal(tpr[1:], [(s[m] >= t).sum() / P for t in distinct])
    np.testing.assert_array_equal(fpr[1:], [(s[~m] >= t).sum() / N for t in distinct])

    wins = (s[m][:, None] > s[~m][None, :]).sum() + 0.5 * (s[m][:, None] == s[~m][None, :]).sum()
    assert abs(synpriv.roc_auc(scores, keep) - wins / (P * N)) < 1e-15
    assert synpriv.balanced_accuracy(scores, keep) == max((1 + tpr - fpr) / 2)
    for f in [0.0, 0.01, 0.1, 0.5]:
        assert synpriv.tpr_at_fpr(scores, keep, f) == tpr[fpr <= f].max()
    np.testing.assert_array_equal(synpriv.tpr_at_fpr(scores, keep, [0.01, 0.1]),
                                  [tpr[fpr <= 0.01].max(), tpr[fpr <= 0.1].max()])
    thin_fpr, thin_tpr, _ = synpriv.roc_curve(scores, keep, thin=True)
    assert len(thin_fpr) <= len(fpr) and thin_fpr[-1] == 1


def test_evaluate_agrees_with_the_single_metrics():
    scores, keep = data(1)
    e = synpriv.evaluate(scores, keep, bootstrap=50, seed=2, threads=1)
    assert e["auc"] == synpriv.roc_auc(scores, keep)
    assert e["balanced_accuracy"] == synpriv.balanced_accuracy(scores, keep)
    assert [t["tpr"] for t in e["tpr_at_fpr"]] == list(synpriv.tpr_at_fpr(scores, keep, [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]))
    assert e["epsilon_lower_bound"] == synpriv.epsilon_lower_bound(scores, keep)["epsilon"]
    assert (e["n_members"], e["n_nonmembers"]) == (int(keep.sum()), int((~keep).sum()))
    b = synpriv.bootstrap_tpr_at_fpr(scores, keep, replicates=50, seed=2)
    assert e["bootstrap"]["tpr_ci95"] == [b["lo"], b["hi"]] and b["replicates"] == 50
    per_model = synpriv.one_run_audit(scores, keep)
    assert [r["epsilon"] for r in per_model] == [r["epsilon"] for r in e["one_run"]["per_model"]]
    assert e["one_run"]["valid"] is False  # an unnamed attack counts as reference-based
    # Groups: a group holding every pair gives the overall numbers.
    g = synpriv.evaluate(scores, keep, bootstrap=0, groups=np.zeros(keep.shape[1], dtype=np.int32))
    assert g["groups"][0]["auc"] == g["auc"] and "bootstrap" not in g


def test_one_run_audit_counts_its_guesses():
    # Members score 1, non-members 0: every guess is right.
    member = np.arange(200) % 2 == 0
    r = synpriv.one_run_audit(member.astype(float), member, delta=0.0)
    assert r["m"] == 200 and r["correct"] == r["guesses"] > 0 and r["epsilon"] > 1
    again = synpriv.one_run_epsilon(200, r["guesses"], r["correct"], delta=0.0, confidence=1 - 0.05 / r["candidates"])
    assert abs(again - r["epsilon"]) < 1e-8
    fixed = synpriv.one_run_audit(member.astype(float), member, delta=0.0, k_pos=10, k_neg=10)
    assert (fixed["guesses"], fixed["correct"], fixed["candidates"]) == (20, 20, 1)
    assert synpriv.one_run_p_value(200, 20, 20, fixed["epsilon"], 0.0) <= 0.05 + 1e-9


def test_inputs_are_read_in_place_or_converted_without_changing_values():
    scores, keep = data(3)
    as_f32 = scores.astype(np.float32)
    a = synpriv.evaluate(as_f32, keep.astype(np.int8), bootstrap=0)
    b = synpriv.evaluate(as_f32.astype(np.float64), keep, bootstrap=0)
    a.pop("roc"), b.pop("roc")
    assert a == b
    # A non-contiguous view gives what its contiguous copy gives.
    wide = np.repeat(scores, 2, axis=1)[:, ::2]
    assert synpriv.roc_auc(wide, keep) == synpriv.roc_auc(np.ascontiguousarray(wide), keep)
