"""Timeouts on outbound calls."""

from __future__ import annotations

from libcst.codemod import CodemodTest

from fixers.timeouts import AddTimeout
from tests.fixers.helpers import targets
from tests.fixers.roundtrip import fix_project, read


class TestAddTimeout(CodemodTest):
    TRANSFORM = AddTimeout

    def test_calls_get_a_timeout(self):
        before = """
            import smtplib

            import requests


            def notify(url, payload, host):
                requests.post(
                    url,
                    json=payload,
                )
                with smtplib.SMTP(host, 587) as server:
                    server.noop()
        """
        after = """
            import smtplib

            import requests


            def notify(url, payload, host):
                requests.post(
                    url,
                    json=payload,
                    timeout=10,
                )
                with smtplib.SMTP(host, 587, timeout=10) as server:
                    server.noop()
        """
        self.assertCodemod(before, after, targets=targets(before, "PR250", "requests.post", "smtplib.SMTP"))


def test_fastapi_and_flask_calls(tmp_path):
    files = {
        "api.py": "import httpx\nfrom fastapi import FastAPI\napp = FastAPI()\n@app.get('/rates')\ndef rates():\n    return httpx.get('https://rates.example.com').json()\n",
        "shop.py": "import requests\nfrom flask import Flask\nshop = Flask(__name__)\n@shop.route('/ship', methods=['POST'])\ndef ship():\n    return requests.post('https://ship.example.com', json={}).json()\n",
    }
    root, _, _ = fix_project(tmp_path, files, {"PR250"})
    assert "httpx.get('https://rates.example.com', timeout=10)" in read(root, "api.py")
    assert "requests.post('https://ship.example.com', json={}, timeout=10)" in read(root, "shop.py")
