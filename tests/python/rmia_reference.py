"""An independent NumPy implementation of sp_lira's RMIA scores (attacks/rmia.h), for tests/test_rmia.cpp.

Reads a synpriv experiment directory (audit/labels.npy, population/labels.npy,
shadow/<k>/{keep,logits,population_logits}.npy) and writes rmia_online.npy and rmia_offline.npy, [S, M]
scores with leave-one-model-out references, to OUT. Written from the formulas (Zarifzadeh, Liu, Shokri,
ICML 2024), vectorised over samples and population, without reusing the C++ code's structure.

usage: rmia_reference.py DIR OUT GAMMA A|calibrate TEMPERATURE EQUALIZE(0|1)
"""
import os
import sys

import numpy as np

MASK = (1 << 64) - 1


def fold_drop_index(i, t, n):
    z = (i * 0x9E3779B97F4A7C15 + t * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    z ^= z >> 31
    return z % n


def label_log_prob(logits, labels, temperature):
    z = logits.astype(np.float64) / temperature  # [N, A, C]
    m = z.max(axis=2, keepdims=True)
    lse = m[..., 0] + np.log(np.exp(z - m).sum(axis=2))
    idx = np.broadcast_to(labels[:, None, None], (z.shape[0], z.shape[1], 1))
    return np.take_along_axis(z, idx, axis=2)[..., 0] - lse  # [N, A]


def auc(scores, labels):
    pos, neg = scores[labels == 1], scores[labels == 0]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    gt = (pos[:, None] > neg[None, :]).sum()
    eq = (pos[:, None] == neg[None, :]).sum()
    return (gt + 0.5 * eq) / (len(pos) * len(neg))


def scores_of(lx, lz, member, t, skip, online, a, log_gamma, equalize):
    S, M, A = lx.shape
    refs = np.array([s != t and s != skip for s in range(S)])
    pz = ((1 + a) * np.exp(lz[refs]).mean(axis=0) + 1 - a) / 2  # [P, A]
    w = lz[t] - np.log(pz)
    u = np.empty((M, A))
    for i in range(M):
        use = refs.copy()
        if equalize:
            other = [s for s in range(S) if use[s] and member[s, i] != member[t, i]]
            if other:
                use[other[fold_drop_index(i, t, len(other))]] = False
        ins, outs = use & (member[:, i] == 1), use & (member[:, i] == 0)
        p_out = np.exp(lx[outs, i]).mean(axis=0)
        if online:
            px = (np.exp(lx[ins, i]).mean(axis=0) + p_out) / 2
        else:
            px = ((1 + a) * p_out + 1 - a) / 2
        u[i] = lx[t, i] - np.log(px)
    votes = ((u[:, None, :] - w[None, :, :]) >= log_gamma).sum(axis=2)  # [M, P]
    return (2 * votes > A).mean(axis=1)


def main():
    d, out, gamma, a_arg, temperature, equalize = sys.argv[1:7]
    gamma, temperature, equalize = float(gamma), float(temperature), equalize == "1"
    labels = np.load(os.path.join(d, "audit", "labels.npy"))
    plabels = np.load(os.path.join(d, "population", "labels.npy"))
    S = len(os.listdir(os.path.join(d, "shadow")))
    member = np.stack([np.load(os.path.join(d, "shadow", str(s), "keep.npy")).astype(int) for s in range(S)])
    lx = np.stack([label_log_prob(np.load(os.path.join(d, "shadow", str(s), "logits.npy")), labels, temperature)
                   for s in range(S)])
    lz = np.stack([label_log_prob(np.load(os.path.join(d, "shadow", str(s), "population_logits.npy")), plabels,
                                  temperature) for s in range(S)])
    log_gamma = np.log(gamma)
    res = {"rmia_online": np.empty((S, len(labels))), "rmia_offline": np.empty((S, len(labels)))}
    for t in range(S):
        if a_arg == "calibrate":
            q = t ^ 1 if (t ^ 1) < S else (t + 1) % S
            best, a = -1.0, 0.33
            for k in range(11):
                cand = 0.1 * k
                v = auc(scores_of(lx, lz, member, q, t, False, cand, log_gamma, equalize), member[q])
                if v > best:
                    best, a = v, cand
        else:
            a = float(a_arg)
        res["rmia_online"][t] = scores_of(lx, lz, member, t, -1, True, a, log_gamma, equalize)
        res["rmia_offline"][t] = scores_of(lx, lz, member, t, -1, False, a, log_gamma, equalize)
    for name, v in res.items():
        np.save(os.path.join(out, name + ".npy"), v)


if __name__ == "__main__":
    main()
