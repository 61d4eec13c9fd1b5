"""Roadmaps to the next maturity level, from the `aiops` model's transition guides (guide.yaml):

- the live roadmap of each team: the next guide's success criteria, proven, disproven, without data
  or unmeasurable from telemetry (`live.roadmap`, in every report and on /api/report);
- the detailed assessment report of a self-assessment: levels, dimension gaps, strengths,
  prioritised improvement areas, a 0-3 / 3-6 / 6-12 month action plan from the guides, resources
  and expected outcomes (`report.build_assessment_report`).
"""
from metrics.roadmap.criteria import STATES
from metrics.roadmap.guide import Guide, load_guide
from metrics.roadmap.live import (claims_of, evidence_from_assessment, roadmap, roadmap_from_report,
                                  with_claims)

__all__ = ["STATES", "Guide", "claims_of", "evidence_from_assessment", "load_guide", "roadmap",
           "roadmap_from_report", "with_claims"]
