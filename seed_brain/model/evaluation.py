"""Scoring SEEDBrain's stored embeddings: dev validation and the test report.

:class:`TrialEvaluation` is the part of
:class:`seed_brain.model.brain.SEEDBrain` that scores trials from
``self.stored`` (``uid -> (baseline, SEED)`` embeddings): cosine scores with
the optional s-norm, EER / minDCF, the dev EER that picks the checkpoint,
and the test conditions with their paired bootstrap, written to
``results.json``, ``results.md`` and plots.

Authors
 * seed-brain developers 2026
"""

import logging
import os

import numpy as np
import speechbrain as sb
import torch

logger = logging.getLogger(__name__)


class TrialEvaluation:
    """Trial scoring of :class:`seed_brain.model.brain.SEEDBrain`.

    A mixin: it uses the brain's ``stored`` embeddings, ``_hp``, the dev
    trials, the test conditions and test sets, and ``cohort``.
    """

    def _score(self, trials, enrol_key, test_key, system):
        """Labels and cosine scores of trials for one system."""
        from seed_brain.scoring import cosine_scores

        col = 0 if system == "baseline" else 1
        labels = torch.tensor([t[0] for t in trials])
        enrol = torch.stack([self.stored[enrol_key(t[1])][col] for t in trials])
        test = torch.stack([self.stored[test_key(t[2])][col] for t in trials])
        scores = cosine_scores(enrol, test)
        cohort = getattr(self, "cohort", None)
        if cohort is not None:
            scores = self._normalise(trials, enrol_key, test_key, col, scores)
        return labels.numpy(), scores

    def _normalise(self, trials, enrol_key, test_key, col, scores):
        """Adaptive s-norm of trial scores with the label-free cohort.

        The cohort is the clean training crops of the calibration, as each
        system sees them (see :meth:`calibrate`); ``cohort_top_k`` of
        their highest scores per embedding set the statistics.
        """
        from seed_brain.scoring.backend import _cohort_stats, cohort_scores

        method = self._hp("score_norm")
        if method != "s-norm":
            raise ValueError(
                f"score_norm must be null or s-norm, got {method!r}."
            )
        cohort = self.cohort["baseline" if col == 0 else "seed"]
        keys = sorted(
            {enrol_key(t[1]) for t in trials} | {test_key(t[2]) for t in trials}
        )
        index = {k: i for i, k in enumerate(keys)}
        emb = torch.stack([self.stored[k][col] for k in keys])
        top_k = self._hp("cohort_top_k")
        top_k = None if top_k is None else min(int(top_k), len(cohort))
        # Statistics per embedding once, then per trial by index.
        mean, std = _cohort_stats(
            cohort_scores(emb, cohort), top_k, 1, "score_norm cohort"
        )
        e = np.array([index[enrol_key(t[1])] for t in trials])
        s = np.array([index[test_key(t[2])] for t in trials])
        scores = np.asarray(scores, dtype=np.float64)
        return 0.5 * ((scores - mean[e]) / std[e] + (scores - mean[s]) / std[s])

    def _compare(self, trials, enrol_key, test_key):
        """Labels, both systems' scores, and their EER / minDCF entries."""
        labels, base = self._score(trials, enrol_key, test_key, "baseline")
        _, seed = self._score(trials, enrol_key, test_key, "seed")
        entry = {
            "baseline": self._metrics(labels, base),
            "seed": self._metrics(labels, seed),
        }
        return labels, base, seed, entry

    def _metrics(self, labels, scores):
        from seed_brain.scoring import compute_eer, compute_min_dcf

        pos, neg = scores[labels == 1], scores[labels == 0]
        eer, _ = compute_eer(pos, neg)
        min_dcf, _ = compute_min_dcf(
            pos,
            neg,
            p_target=self._hp("p_target", 0.05),
            c_miss=self._hp("c_miss", 1.0),
            c_fa=self._hp("c_fa", 1.0),
            normalise=True,
        )
        return {"eer": 100.0 * float(eer), "min_dcf": float(min_dcf)}

    def _dev_stats(self):
        def key(uid):
            return uid

        labels, seed_scores = self._score(self.dev_trials, key, key, "seed")
        stats = {"dev_eer": round(self._metrics(labels, seed_scores)["eer"], 4)}
        if self.baseline_dev_eer is None:
            _, base = self._score(self.dev_trials, key, key, "baseline")
            self.baseline_dev_eer = self._metrics(labels, base)["eer"]
        stats["dev_eer_baseline"] = round(self.baseline_dev_eer, 4)
        return stats

    def _dev_results(self):
        """Baseline and SEED on the dev trials, when their embeddings are in.

        The dev trials (held-out training speech, test side corrupted with
        the training banks) are the validation split: settings such as
        ``ensemble_weight`` or ``sample_t`` are chosen on them, never on
        the test trials. ``None`` when the dev embeddings were not given.
        """
        trials = getattr(self, "dev_trials", None)
        if not trials or any(
            t[1] not in self.stored or t[2] not in self.stored for t in trials
        ):
            return None

        def key(uid):
            return uid

        labels, _, _, entry = self._compare(trials, key, key)
        out = {
            "n_target": int((labels == 1).sum()),
            "n_nontarget": int((labels == 0).sum()),
            **entry,
        }
        # The same trials with the clean test segments: what SEED does to
        # clean speech, on the validation split.
        clean = [
            (t[0], t[1], t[2].replace("dev_noisy/", "dev_clean/", 1))
            for t in trials
        ]
        if all(t[2] in self.stored for t in clean):
            out["clean"] = self._compare(clean, key, key)[3]
        return out

    def _score_conditions(self, conditions, enrol_key, test_key, n_boot):
        """Both systems on each condition's trials, with the paired CIs.

        Returns the condition entries of ``results.json``, the joint
        bootstrap of the mean noisy EER change (None when it does not
        apply) and the scores of each condition (for the plots).
        """
        from seed_brain.scoring import (
            bootstrap_eer_change,
            bootstrap_mean_eer_change,
        )

        entries, scores, noisy = [], {}, []
        for name, trials in conditions.items():
            labels, base, seed, metrics = self._compare(
                trials, enrol_key, lambda uid, name=name: test_key(name, uid)
            )
            entry = {
                "name": name,
                "n_target": int((labels == 1).sum()),
                "n_nontarget": int((labels == 0).sum()),
                **metrics,
            }
            if name != "clean":
                noisy.append((labels, base, seed))
            if n_boot > 0:
                entry["eer_change_ci"] = bootstrap_eer_change(
                    labels, base, seed, n_boot=n_boot, seed=0
                )
            entries.append(entry)
            scores[name] = (labels, base, seed)
        mean_ci = None
        if n_boot > 0 and len(noisy) > 1:
            same = all(
                x[0].shape == noisy[0][0].shape and (x[0] == noisy[0][0]).all()
                for x in noisy
            )
            if same:  # one trial list corrupted several ways
                mean_ci = bootstrap_mean_eer_change(
                    noisy[0][0],
                    [x[1] for x in noisy],
                    [x[2] for x in noisy],
                    n_boot=n_boot,
                    seed=0,
                )
        return entries, mean_ci, scores

    def _test_set_results(self):
        """The extra test sets (short test, held-out speech), if given.

        ``self.test_sets`` maps a set name to ``{"description": str,
        "conditions": {condition: [(label, enrol key, test key)]}}`` (see
        :func:`seed_brain.views.datasets.test_set_items`). Each set is scored
        like the main test, baseline and SEED with the same cosine backend and
        ``n_bootstrap`` paired-bootstrap replicates (about 20 s for the
        three default sets at 1,000 on two CPU cores).
        """
        sets = getattr(self, "test_sets", None) or {}
        n_boot = int(self._hp("n_bootstrap", 0))

        def enrol_key(uid):  # the trials hold the full keys
            return uid

        def test_key(condition, uid):
            return uid

        out = {}
        for name, entry in sets.items():
            conditions = entry["conditions"]
            if not conditions:
                continue
            entries, mean_ci, _ = self._score_conditions(
                conditions, enrol_key, test_key, n_boot
            )
            result = {
                "description": entry.get("description", ""),
                "n_target": entries[0]["n_target"],
                "n_nontarget": entries[0]["n_nontarget"],
                "conditions": entries,
            }
            if mean_ci is not None:
                result["mean_noisy_eer_change_ci"] = mean_ci
            out[name] = result
        return out

    def _test_results(self):
        from seed_brain.scoring import (
            plot_det,
            plot_score_histograms,
            write_results,
        )

        n_boot = int(self._hp("n_bootstrap", 0))

        def enrol_key(uid):
            return f"clean/{uid}"

        def test_key(name, uid):
            return f"{name}/{uid}"

        conditions, mean_ci, scores = self._score_conditions(
            self.test_conditions, enrol_key, test_key, n_boot
        )
        curves, histos = {}, {}
        for name, (labels, base, seed) in scores.items():
            pos, neg = labels == 1, labels == 0
            curves[f"{name} baseline"] = (base[pos], base[neg])
            curves[f"{name} SEED"] = (seed[pos], seed[neg])
            histos[f"{name} baseline"] = (base[pos], base[neg])
            histos[f"{name} SEED"] = (seed[pos], seed[neg])
        results = {
            "backbone": str(self._hp("backbone", "encoder")),
            "conditions": conditions,
            "seed": {
                "train_seed": int(self._hp("seed", 0)),
                "eval_seed": int(self._hp("eval_seed", 0)),
                "sample_t": int(self._hp("sample_t", 50)),
                "sample_steps": int(self._hp("sample_steps", 1)),
                "ensemble_weight": float(self._hp("ensemble_weight", 1.0)),
                "num_draws": int(self._hp("num_draws", 1)),
                "use_ema": bool(self._hp("use_ema", True)),
            },
        }
        if mean_ci is not None:
            results["mean_noisy_eer_change_ci"] = mean_ci
        test_sets = self._test_set_results()
        if test_sets:
            results["test_sets"] = test_sets
        dev = self._dev_results()
        if dev is not None:
            results["dev"] = dev
        if self._hp("skipped") is not None:
            results["skipped"] = self.hparams.skipped
        folder = self._hp("results_folder") or self._hp("output_folder", ".")
        os.makedirs(folder, exist_ok=True)
        if sb.utils.distributed.if_main_process():
            write_results(results, folder)
            plot_det(
                curves,
                os.path.join(folder, "det.png"),
                title=f"SEED over {results['backbone']}",
            )
            plot_score_histograms(histos, os.path.join(folder, "scores.png"))
            logger.info(
                "Results written to %s",
                os.path.join(folder, "results.md"),
            )
        return results
