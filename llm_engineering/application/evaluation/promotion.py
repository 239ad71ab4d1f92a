"""When an evaluated twin version becomes the production one.

The rule: compare the version's own model (its last training stage, normally DPO) with the current
production twin scored on the same test split in the same run; when there is no other production
version, with the base model. Promote only when the candidate has a LOWER held-out perplexity AND
a style similarity no worse than the baseline's (minus `style_tolerance`). When no answers were
generated, perplexity alone decides, and the reason says so.
"""

from __future__ import annotations

from llm_engineering.domain.training import EvaluationReport, ModelVersion, PromotionDecision


def decide_promotion(
    report: EvaluationReport,
    *,
    candidate: str,
    version: ModelVersion,
    production: ModelVersion | None,
    tolerance: float = 0.0,
) -> PromotionDecision:
    previous = production.version if production else None

    def decision(promoted: bool, reason: str) -> PromotionDecision:
        return PromotionDecision(
            version=version.version, promoted=promoted, reason=reason, previous_production=previous
        )

    if production is not None and production.version == version.version:
        return decision(False, f"version {version.version} is already in production")
    if candidate not in report.models:
        return decision(False, f"the version's own model ({candidate}) was not evaluated")
    baseline_label = "production" if "production" in report.models else "base"
    if baseline_label not in report.models:
        return decision(False, "nothing to compare with: evaluate the base model (models: [base, ...])")
    if baseline_label == "base" and production is not None:
        return decision(False, "production exists but was not evaluated: set compare_with_production: true")
    new, old = report.models[candidate], report.models[baseline_label]
    against = f"{baseline_label} (version {previous})" if baseline_label == "production" else "the base model"
    if new.perplexity is None or old.perplexity is None:
        return decision(False, "held-out perplexity is missing, so nothing can be compared")
    ppl = f"perplexity {new.perplexity:.3f} vs {old.perplexity:.3f}"
    if new.perplexity >= old.perplexity:
        return decision(False, f"{candidate} does not beat {against}: {ppl} (must be lower)")
    if new.style_similarity is None or old.style_similarity is None:
        return decision(
            True, f"{candidate} beats {against}: {ppl}; no answers generated, perplexity alone decided"
        )
    style = f"style similarity {new.style_similarity:.3f} vs {old.style_similarity:.3f}"
    if new.style_similarity < old.style_similarity - tolerance:
        return decision(False, f"{candidate} does not beat {against}: {ppl} is lower but {style} is worse")
    return decision(True, f"{candidate} beats {against}: {ppl}, {style}")
