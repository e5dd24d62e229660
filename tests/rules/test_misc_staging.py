"""Step 4: "missing" claims about things the project has, in the forms real projects use."""

from __future__ import annotations

from tests.helpers import scan_example

FASTAPI = "from fastapi import FastAPI\napp = FastAPI()\n"
FLASK = "from flask import Flask\napp = Flask(__name__)\n"


def findings(tmp_path, example, code):
    result = scan_example(tmp_path, example, select=[code])
    assert not [d for d in result.diagnostics if d.kind in {"syntax-error", "rule-error"}], result.diagnostics
    return [f for f in result.findings if f.rule == code]


# -- PR431: tests.py -------------------------------------------------------------------------------


def test_a_django_style_tests_py_counts_as_tests(tmp_path):
    project = {
        "shop/app.py": FLASK + "@app.route('/orders', methods=['POST'])\ndef order():\n    return {}\n",
        "shop/tests.py": "import unittest\nclass OrderTests(unittest.TestCase):\n"
        "    def test_blank_order_is_422(self):\n        self.assertEqual(client.post('/orders', json={}).status_code, 422)\n"
        "    def test_duplicate_is_409(self):\n        self.assertEqual(client.post('/orders').status_code, 409)\n",
    }
    assert findings(tmp_path, project, "PR431") == []


def test_a_tests_py_missing_failure_paths_is_judged_on_its_content(tmp_path):
    project = {
        "shop/app.py": FLASK + "@app.route('/orders', methods=['POST'])\ndef order():\n    return {}\n",
        "shop/tests.py": "def test_create():\n    assert client.post('/orders', json={'qty': 1}).status_code == 200\n",
    }
    (finding,) = findings(tmp_path, project, "PR431")
    assert finding.path == "shop/tests.py" and "never exercise" in finding.message


def test_no_test_file_at_all_is_still_reported(tmp_path):
    project = {"shop/app.py": FLASK + "@app.route('/orders', methods=['POST'])\ndef order():\n    return {}\n"}
    (finding,) = findings(tmp_path, project, "PR431")
    assert "no tests found" in finding.message


def test_a_tests_py_is_not_app_code_for_other_rules(tmp_path):
    project = {
        "shop/app.py": FLASK + "@app.route('/health')\ndef health():\n    return 'ok'\n",
        "shop/tests.py": "from flask import Flask\nfake = Flask('fake')\n@fake.route('/items')\ndef items():\n    return []\n",
    }
    assert findings(tmp_path, project, "PR430") == []


# -- PR420: a committed .env template ---------------------------------------------------------------

SETTINGS_APP = {
    "app/__init__.py": "",
    "app/settings.py": "from pydantic_settings import BaseSettings\n"
    "class Settings(BaseSettings):\n    database_url: str\n    secret_key: str\n    smtp_host: str = ''\n",
    "app/main.py": FASTAPI,
}


def test_a_committed_env_with_placeholders_for_every_setting_is_the_example(tmp_path):
    env = "DATABASE_URL=postgresql://app:app@localhost:5432/app\nSECRET_KEY=change-me\nSMTP_HOST=\n"
    assert findings(tmp_path, {**SETTINGS_APP, ".env": env}, "PR420") == []


def test_a_committed_env_with_an_env_prefix_counts(tmp_path):
    project = {
        "app/settings.py": "from pydantic_settings import BaseSettings, SettingsConfigDict\n"
        "class Settings(BaseSettings):\n    model_config = SettingsConfigDict(env_prefix='SHOP_')\n    database_url: str\n",
        "app/main.py": FASTAPI,
        ".env": "SHOP_DATABASE_URL=sqlite:///./dev.db\n",
    }
    assert findings(tmp_path, project, "PR420") == []


def test_a_committed_env_missing_a_setting_is_no_template(tmp_path):
    env = "DATABASE_URL=postgresql://app:app@localhost:5432/app\nSECRET_KEY=change-me\n"
    (finding,) = findings(tmp_path, {**SETTINGS_APP, ".env": env}, "PR420")
    assert "no .env.example" in finding.message


def test_a_committed_env_with_a_real_secret_is_no_template(tmp_path):
    env = "DATABASE_URL=postgresql://app:app@localhost:5432/app\nSECRET_KEY=9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c\nSMTP_HOST=\n"
    assert len(findings(tmp_path, {**SETTINGS_APP, ".env": env}, "PR420")) == 1


def test_an_ignored_env_is_not_committed_and_does_not_count(tmp_path):
    env = "DATABASE_URL=\nSECRET_KEY=change-me\nSMTP_HOST=\n"
    project = {**SETTINGS_APP, ".env": env, ".gitignore": ".env\n"}
    assert len(findings(tmp_path, project, "PR420")) == 1


# -- PR421: configuration that is already environment-driven ----------------------------------------


def test_a_settings_class_is_environment_driven(tmp_path):
    assert findings(tmp_path, SETTINGS_APP, "PR421") == []


def test_flask_config_classes_per_environment_count(tmp_path):
    project = {
        "config.py": "import os\nclass Config:\n    SECRET_KEY = os.environ.get('SECRET_KEY')\n"
        "class DevelopmentConfig(Config):\n    DEBUG = True\nclass ProductionConfig(Config):\n    pass\n"
        "config = {'development': DevelopmentConfig, 'production': ProductionConfig}\n",
        "app/__init__.py": "from flask import Flask\nfrom config import config\n"
        "def create_app(name):\n    app = Flask(__name__)\n    app.config.from_object(config[name])\n    return app\n",
    }
    assert findings(tmp_path, project, "PR421") == []


def test_flask_config_from_an_environment_variable_counts(tmp_path):
    source = FLASK + "app.config.from_prefixed_env()\n"
    assert findings(tmp_path, source, "PR421") == []


def test_database_url_and_secret_from_the_environment_count(tmp_path):
    source = FLASK + "import os\napp.config['SQLALCHEMY_DATABASE_URI'] = os.environ['DATABASE_URL']\napp.secret_key = os.environ['SECRET_KEY']\n"
    assert findings(tmp_path, source, "PR421") == []


def test_a_settings_class_with_debug_fixed_on_is_not_environment_driven(tmp_path):
    project = {**SETTINGS_APP, "app/main.py": "from fastapi import FastAPI\napp = FastAPI(debug=True)\n"}
    assert len(findings(tmp_path, project, "PR421")) == 1


def test_only_a_database_path_from_the_environment_is_not_enough(tmp_path):
    source = FLASK + "import os\napp.config['DATABASE'] = os.getenv('DATABASE_PATH', 'app.db')\napp.secret_key = 'dev'\n"
    assert len(findings(tmp_path, source, "PR421")) == 1


# -- PR430: GET / answering a status ----------------------------------------------------------------


def test_root_route_answering_a_status_is_a_health_check(tmp_path):
    source = FASTAPI + "@app.get('/')\ndef root():\n    return {'status': 'ok'}\n@app.get('/tasks')\ndef tasks():\n    return []\n"
    assert findings(tmp_path, source, "PR430") == []


def test_flask_root_with_jsonify_and_a_status_code_is_a_health_check(tmp_path):
    source = FLASK + "from flask import jsonify\n@app.route('/')\ndef index():\n    return jsonify(status='up'), 200\n"
    assert findings(tmp_path, source, "PR430") == []


def test_a_welcome_banner_at_the_root_is_no_status(tmp_path):
    source = FASTAPI + "@app.get('/')\ndef root():\n    return {'message': 'Welcome to the TaskFlow API'}\n"
    assert len(findings(tmp_path, source, "PR430")) == 1


def test_root_route_rendering_a_page_is_no_health_check(tmp_path):
    source = FLASK + "from flask import render_template\n@app.route('/')\ndef index():\n    return render_template('index.html')\n"
    assert len(findings(tmp_path, source, "PR430")) == 1


def test_root_route_returning_data_is_no_health_check(tmp_path):
    source = FASTAPI + "@app.get('/')\ndef root(db=None):\n    return db.query(Item).all()\n"
    assert len(findings(tmp_path, source, "PR430")) == 1


def test_a_status_answer_on_another_path_is_not_the_root(tmp_path):
    source = FASTAPI + "@app.post('/')\ndef create():\n    return {'status': 'created'}\n"
    assert len(findings(tmp_path, source, "PR430")) == 1


# -- PR401: Flask config classes are the settings module ----------------------------------------------


def test_flask_config_classes_and_the_entry_point_choosing_one_are_not_scattered(tmp_path):
    project = {
        "config.py": "import os\nclass Config:\n    SECRET_KEY = os.environ.get('SECRET_KEY')\n    MAIL_PORT = int(os.environ.get('MAIL_PORT', '587'))\n"
        "class ProductionConfig(Config):\n    SQLALCHEMY_DATABASE_URI = os.environ.get('DATABASE_URL')\n",
        "app/__init__.py": "from flask import Flask\nfrom config import config\ndef create_app(name):\n    app = Flask(__name__)\n    return app\n",
        "wsgi.py": "import os\nfrom app import create_app\napp = create_app(os.getenv('FLASK_CONFIG') or 'default')\n",
    }
    assert findings(tmp_path, project, "PR401") == []


def test_env_reads_beside_flask_config_classes_are_still_scattered(tmp_path):
    project = {
        "config.py": "import os\nclass Config:\n    SECRET_KEY = os.environ.get('SECRET_KEY')\n",
        "app/__init__.py": "from flask import Flask\napp = Flask(__name__)\n",
        "app/mail.py": "import os\nSMTP_PORT = int(os.getenv('SMTP_PORT', '25'))\n",
    }
    (finding,) = findings(tmp_path, project, "PR401")
    assert finding.path == "app/mail.py"


# -- PR422: debug routes anywhere in the path ---------------------------------------------------------


def test_a_debug_route_below_a_prefix_is_reported(tmp_path):
    source = FLASK + "@app.route('/users/v1/_debug')\ndef dump():\n    return {'users': []}\n"
    (finding,) = findings(tmp_path, source, "PR422")
    assert "/users/v1/_debug" in finding.message


def test_a_word_containing_debug_is_no_debug_route(tmp_path):
    source = FLASK + "@app.route('/debugger-tips')\ndef tips():\n    return []\n"
    assert findings(tmp_path, source, "PR422") == []
