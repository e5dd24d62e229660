"""The rehearsal's settings: the app's example files, fresh secrets, a throwaway database."""

from __future__ import annotations

from auditor.rehearse.environment import build_environment


def test_database_urls_point_at_the_throwaway_file_and_secrets_are_fresh(tmp_path):
    (tmp_path / ".env.example").write_text(
        "APP_DATABASE_URL=postgresql://prod:pw@db.internal/app\n"
        "APP_JWT_SECRET=change-me\n"
        "# PAYMENT_API_KEY=\n"
        "APP_LOG_LEVEL=DEBUG\n"
        "FRONTEND_URL='http://localhost:3000'\n"
    )
    (tmp_path / ".env.staging").write_text("APP_LOG_LEVEL=INFO\nAPP_ENV=staging\n")
    db = tmp_path / "rehearsal.db"
    env = build_environment(tmp_path, db)
    values = env.values
    assert values["APP_DATABASE_URL"] == values["DATABASE_URL"] == f"sqlite:///{db}"
    assert "db.internal" not in "".join(values.values())
    assert values["APP_JWT_SECRET"] != "change-me" and len(values["APP_JWT_SECRET"]) >= 32
    assert values["PAYMENT_API_KEY"] in env.secrets  # named only in a comment: still generated
    assert values["SECRET_KEY"] in env.secrets  # the usual names are always set
    assert values["APP_LOG_LEVEL"] == "INFO"  # .env.staging wins over .env.example
    assert values["FRONTEND_URL"] == "http://localhost:3000"
    assert env.sources == [".env.example", ".env.staging"]


def test_secrets_differ_between_rehearsals_and_urls_are_not_secrets(tmp_path):
    (tmp_path / ".env.example").write_text("WEBHOOK_SECRET=x\nTOKEN_URL=https://auth.example.com/token\n")
    first = build_environment(tmp_path, tmp_path / "a.db", {"API_TOKEN"})
    second = build_environment(tmp_path, tmp_path / "b.db")
    assert first.values["WEBHOOK_SECRET"] != second.values["WEBHOOK_SECRET"]
    assert first.values["TOKEN_URL"] == "https://auth.example.com/token"
    assert first.values["API_TOKEN"] in first.secrets  # read by the code (the index), in no file
