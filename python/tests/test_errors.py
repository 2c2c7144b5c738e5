# Bad input raises synpriv.Error (a ValueError) with a message that says what is wrong and where: wrong shapes
# and dtypes, NaN logits and statistics under the default NaN policy, labels and masks out of range, unknown
# option values, bad accountant parameters and unreadable experiment directories. C++ messages arrive unchanged.
# Run by ctest (python_errors).
import numpy as np
import pytest

import synpriv


def arrays(S=4, M=6, A=2, C=3, seed=0):
    rng = np.random.default_rng(seed)
    keep = np.zeros((S, M), dtype=bool)
    keep[: S // 2] = True
    for i in range(M):
        keep[:, i] = rng.permutation(keep[:, i])
    logits = rng.normal(size=(S, M, A, C)).astype(np.float32)
    labels = rng.integers(0, C, size=M)
    return keep, logits, labels


def raises(match, fn, *args, **kwargs):
    with pytest.raises(synpriv.Error, match=match) as e:
        fn(*args, **kwargs)
    return str(e.value)


def test_error_is_a_value_error():
    assert issubclass(synpriv.Error, ValueError)


def test_shapes_and_dtypes():
    keep, logits, labels = arrays()
    raises(r"keep: shape \(3, 6\) does not match logits \(4 models, 6 samples\)", synpriv.lira_scores, keep[:3],
           logits=logits, labels=labels)
    raises(r"logits: expected 4 dimensions, got shape \(4, 6, 2\)", synpriv.lira_scores, keep, logits=logits[..., 0],
           labels=labels)
    raises(r"labels: 5 labels, but logits has 6 samples", synpriv.lira_scores, keep, logits=logits, labels=labels[:5])
    raises(r"labels: expected integers, got dtype float64", synpriv.lira_scores, keep, logits=logits,
           labels=labels.astype(float))
    raises(r"logits: expected floating-point values, got dtype int64", synpriv.lira_scores, keep,
           logits=logits.astype(np.int64), labels=labels)
    raises(r"give either logits \(with labels\) or phi", synpriv.lira_scores, keep)
    raises(r"statistic='hinge' applies to logits", synpriv.lira_scores, keep, phi=np.zeros((4, 6)), statistic="hinge")
    raises(r"scores: shape \(4, 5\) does not match keep \(4, 6\)", synpriv.evaluate, np.zeros((4, 5)), keep)
    raises(r"member: shape \(3,\) does not match scores \(4,\)", synpriv.roc_auc, np.zeros(4), np.zeros(3, bool))
    raises(r"population_logits: shape .* does not match logits", synpriv.rmia_scores, keep, logits=logits,
           labels=labels, population_logits=logits[:, :, :1], population_labels=labels)


def test_values_out_of_range():
    keep, logits, labels = arrays()
    bad = labels.copy()
    bad[4] = 3
    raises(r"labels: label 3 at index 4 is outside \[0, 3\)", synpriv.lira_scores, keep, logits=logits, labels=bad)
    raises(r"keep: entry 7 \(flat index\) is 2, not 0/1", synpriv.lira_scores,
           np.where(np.arange(24).reshape(4, 6) == 7, 2, keep.astype(int)), logits=logits, labels=labels)
    raises(r"views: .*5", synpriv.lira_scores, keep, logits=logits, labels=labels, views=[5])
    raises(r"rmia_scores: 6 population samples, fewer than min_population = 100", synpriv.rmia_scores, keep,
           logits=logits, labels=labels, population_logits=logits, population_labels=labels)


def test_nan_logits_name_where_they_are():
    keep, logits, labels = arrays(S=6)
    logits[1, 2, 0, 2] = np.nan
    raises(r"logits: non-finite logit nan at model 1, sample 2, query 0, class 2 \(use nan_policy='drop'",
           synpriv.lira_scores, keep, logits=logits, labels=labels)
    phi = synpriv.lira_statistic(logits, labels)
    assert np.isnan(phi[1, 2, 0]) and np.isfinite(phi[1, 2, 1])
    raises(r"phi: non-finite value nan at model 1, sample 2, query 0", synpriv.lira_scores, keep, phi=phi)
    # Dropped instead, the pair is not scored, and folds it leaves short of shadow models neither.
    scores, info = synpriv.lira_scores(keep, phi=phi, nan_policy="drop", return_info=True)
    assert np.isnan(scores["online"][1, 2]) and info["dropped_pairs"] == 1 and info["unscored_pairs"] > 0
    assert np.isfinite(scores["online"][:, 3]).all()
    raises(r"non-finite", synpriv.rmia_scores, keep, logits=logits, labels=labels, population_logits=logits,
           population_labels=labels, min_population=1)


def test_unknown_option_values():
    keep, logits, labels = arrays()
    raises(r"unknown attack 'foo' \(expected online,", synpriv.lira_scores, keep, logits=logits, labels=labels,
           attacks=["online", "foo"])
    raises(r"rmia_online is an RMIA attack: use rmia_scores", synpriv.lira_scores, keep, logits=logits, labels=labels,
           attacks="rmia_online")
    raises(r"'online' listed twice", synpriv.lira_scores, keep, logits=logits, labels=labels,
           attacks="online,online")
    raises(r"unknown fit 'mode'", synpriv.lira_scores, keep, logits=logits, labels=labels, fit="mode")
    raises(r"std: 'pop' is not one of sample, population", synpriv.lira_scores, keep, logits=logits, labels=labels,
           std="pop")
    raises(r"unknown LiRA statistic 'margin'", synpriv.lira_statistic, logits, labels, statistic="margin")
    raises(r"a: 'auto' is not one of calibrate", synpriv.rmia_scores, keep, logits=logits, labels=labels,
           population_logits=logits, population_labels=labels, a="auto")


def test_accountant_parameters():
    raises(r"delta must be in \(0, 1\), got 0", synpriv.rdp_epsilon, 0.01, 1.0, 100, 0.0)
    raises(r"sample rate q must be in \(0, 1\], got 2", synpriv.rdp_epsilon, 2.0, 1.0, 100, 1e-5)
    raises(r"noise multiplier sigma must be positive and finite, got nan", synpriv.prv_epsilon, 0.01, np.nan, 100,
           1e-5)
    raises(r"sequences of different lengths \(2, 3, 1\)", synpriv.rdp_epsilon, [0.1, 0.2], [1, 2, 3], 10, 1e-5)
    raises(r"calibrate_noise: target epsilon", synpriv.calibrate_noise, 0.01, 100, 1e-5, -1.0)
    raises(r"accountant: 'moments' is not one of rdp, prv", synpriv.calibrate_noise, 0.01, 100, 1e-5, 1.0,
           accountant="moments")


def test_unreadable_experiments(tmp_path):
    raises(str(tmp_path / "missing"), synpriv.read_experiment, str(tmp_path / "missing"))
    raises(r"unknown layout|layout", synpriv.read_experiment, str(tmp_path), layout="pytorch")
    d = tmp_path / "exp"
    (d / "audit").mkdir(parents=True)
    (d / "shadow" / "0").mkdir(parents=True)
    np.save(d / "audit" / "labels.npy", np.array([0, 1, 1]))
    np.save(d / "shadow" / "0" / "keep.npy", np.array([1, 0, 3]))
    np.save(d / "shadow" / "0" / "logits.npy", np.zeros((3, 1, 2), np.float32))
    raises(r"keep.npy: entry 2 is 3 \(not 0/1\)", synpriv.read_experiment, str(d))
    np.save(d / "shadow" / "0" / "keep.npy", np.array([True, False, True]))
    np.save(d / "shadow" / "0" / "logits.npy", np.zeros((4, 1, 2), np.float32))
    raises(r"logits.npy: 4 samples, but the labels have 3", synpriv.read_experiment, str(d))
    with pytest.raises(synpriv.Error, match="logits.npy: 4 samples"):
        synpriv.run_lira(str(d), plot=False)
