from auditor.models import Category, Confidence, Finding, Severity, Step
from auditor.scoring import step_scores


def finding(severity: Severity, step: Step = Step.VALIDATION) -> Finding:
    return Finding(
        rule="PR301", name="x", step=step, category=Category.VALIDATION, severity=severity,
        confidence=Confidence.HIGH, path="a.py", line=1, col=0, end_line=1, message="m",
    )  # fmt: skip


def test_clean_steps_score_100_and_severity_weighs():
    scores = step_scores([finding(Severity.HIGH)])
    assert scores[Step.DATA_MODEL] == {"findings": 0, "score": 100}
    assert scores[Step.VALIDATION] == {"findings": 1, "score": 80}
    assert step_scores([finding(Severity.LOW)])[Step.VALIDATION]["score"] == 97


def test_fixing_findings_always_raises_the_score():
    many = [finding(Severity.HIGH)] * 30
    before = step_scores(many)[Step.VALIDATION]["score"]
    after = step_scores(many[:25])[Step.VALIDATION]["score"]
    assert 0 < before < after < 100
