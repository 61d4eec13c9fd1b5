"""Self-assessment: questionnaire answers for several maturity models, each claim capped by live
evidence where telemetry can answer it, and a crosswalk that scores every model side by side.

    from metrics.assessment import assess_all, evidence_from_report
    results = assess_all(yaml.safe_load(text), evidence_from_report(report.as_dict(), signals))
    results["aiops"].level, results["aiops"].dimensions, results["platform"].warnings
"""
from metrics.assessment.errors import AnswersError, AssessmentError, DefinitionError, EvidenceError
from metrics.assessment.answers import (Answers,
                                        dump as dump_answers, load_file as load_answers, validate as validate_answers)
from metrics.assessment.crosswalk import MODELS, assess_all, assess_model, crosswalk_dict
from metrics.assessment.evidence import from_report as evidence_from_report, load_file as load_evidence
from metrics.assessment.result import ModelResult, ScoredAnswer

__all__ = [
    "MODELS", "Answers", "AnswersError", "AssessmentError", "DefinitionError", "EvidenceError", "ModelResult",
    "ScoredAnswer", "assess_all", "assess_model", "crosswalk_dict", "dump_answers", "evidence_from_report",
    "load_answers", "load_evidence", "validate_answers",
]
