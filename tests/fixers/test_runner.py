"""The subprocess runner behind `fix --verify` (and the rehearsal): real processes, real sockets."""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fixers.pipeline.runner import Sandbox, copy_project, network_isolation, project_python
from tests.fixers.helpers import digest


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper is dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "main.py").write_text("VALUE = 1\n")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "node_modules" / "left").mkdir(parents=True)
    (root / "node_modules" / "left" / "index.js").write_text("")
    return root


def script(text: str) -> list[str]:
    return ["{python}", "-c", textwrap.dedent(text)]


def test_timeout_kills_the_whole_process_group_grandchildren_included(tmp_path):
    root = project(tmp_path)
    pids = tmp_path / "pids"
    with Sandbox(root) as sandbox:
        copy = sandbox.copy("run")
        started = time.monotonic()
        result = sandbox.run(
            script(f"""
                import subprocess, sys, time
                child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
                open({str(pids)!r}, "w").write(str(child.pid))
                print("started", flush=True)
                time.sleep(60)
            """),
            cwd=copy,
            timeout=1.5,
        )
        elapsed = time.monotonic() - started
    assert result.timed_out and result.returncode is None
    assert result.describe() == "timed out after 1.5 s"
    assert "started" in result.output
    assert elapsed < 10  # the grandchild keeps the output file open: the wait must not hang on it
    grandchild = int(pids.read_text())
    deadline = time.monotonic() + 5
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(grandchild)


def test_a_finished_run_reports_its_exit_code_and_output(tmp_path):
    with Sandbox(project(tmp_path)) as sandbox:
        result = sandbox.run(script("import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"), cwd=sandbox.copy("run"))
    assert (result.returncode, result.timed_out, result.ok) == (3, False, False)
    assert "out" in result.output and "err" in result.output
    assert result.describe().startswith("exit code 3 after ")


def non_loopback_address() -> str | None:
    """An IPv4 address of this machine that is not 127.x (to listen on outside the sandbox)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for _, name in socket.if_nameindex():
            try:
                packed = fcntl.ioctl(probe.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))  # SIOCGIFADDR
            except OSError:
                continue
            address = socket.inet_ntoa(packed[20:24])
            if not address.startswith("127."):
                return address
    finally:
        probe.close()
    return None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="network namespaces are Linux only")
def test_no_network_but_loopback_inside(tmp_path):
    isolation = network_isolation()
    if not isolation.isolated:
        pytest.skip(isolation.description)
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no address but loopback to listen on")
    outside = socket.socket()
    outside.bind((address, 0))
    outside.listen(5)
    port = outside.getsockname()[1]
    socket.create_connection((address, port), timeout=2).close()  # reachable from here
    try:
        with Sandbox(project(tmp_path)) as sandbox:
            result = sandbox.run(
                script(f"""
                    import socket
                    try:
                        socket.create_connection(({address!r}, {port}), timeout=2)
                        print("outside: connected")
                    except OSError as exc:
                        print("outside: refused", exc)
                    server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(1)
                    socket.create_connection(server.getsockname(), timeout=2)
                    print("loopback: connected")
                """),
                cwd=sandbox.copy("run"),
                timeout=20,
            )
    finally:
        outside.close()
    assert "outside: refused" in result.output, result.output
    assert "loopback: connected" in result.output, result.output
    assert result.isolation.isolated and "127.0.0.1" in result.isolation.description


def test_without_isolation_outbound_http_points_at_a_closed_local_proxy(tmp_path):
    with Sandbox(project(tmp_path), isolate=False) as sandbox:
        result = sandbox.run(script("import os; print(os.environ['HTTPS_PROXY'], os.environ['NO_PROXY'])"), cwd=sandbox.copy("run"))
    assert "http://127.0.0.1:9 127.0.0.1,localhost" in result.output
    assert not result.isolation.isolated


def test_the_users_tree_is_left_byte_for_byte_and_secrets_stay_out(tmp_path, monkeypatch):
    root = project(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("outside\n")
    os.symlink(outside, root / "linked_dir")  # a folder outside the project: not copied
    os.symlink(root / "app" / "main.py", root / "alias.py")  # inside: a link within the copy
    before, before_outside = digest(root), digest(outside)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak")
    with Sandbox(root) as sandbox:
        copy = sandbox.copy("run")
        result = sandbox.run(
            script("""
                import os, pathlib
                pathlib.Path("app/main.py").write_text("VALUE = 2\\n")
                pathlib.Path("alias.py").write_text("VALUE = 3\\n")
                pathlib.Path("new.txt").write_text("new\\n")
                import app.main
                print("secret:", os.environ.get("AWS_SECRET_ACCESS_KEY"))
                print("linked:", os.path.exists("linked_dir"), "git:", os.path.exists(".git"), "node:", os.path.exists("node_modules"))
                print("cwd:", os.getcwd())
            """),
            cwd=copy,
        )
        assert (copy / "app" / "main.py").read_text() == "VALUE = 3\n"  # the link stayed inside the copy
        folder = sandbox.dir
    assert result.ok, result.output
    assert "secret: None" in result.output
    assert "linked: False git: False node: False" in result.output
    assert f"cwd: {copy}" in result.output
    assert digest(root) == before and digest(outside) == before_outside
    assert not (root / "app" / "__pycache__").exists()
    assert not folder.exists()  # the copies are removed on close


def test_copy_skips_environments_and_caches(tmp_path):
    root = project(tmp_path)
    (root / "env3").mkdir()
    (root / "env3" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (root / "app" / "__pycache__").mkdir()
    (root / "app" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    copy_project(root, tmp_path / "copy")
    copied = sorted(p.relative_to(tmp_path / "copy").as_posix() for p in (tmp_path / "copy").rglob("*"))
    assert copied == ["app", "app/__init__.py", "app/main.py"]


def test_the_projects_own_virtualenv_is_preferred(tmp_path):
    root = project(tmp_path)
    assert project_python(root).executable == Path(sys.executable)
    assert "no .venv/ or venv/" in project_python(root).source
    (root / "venv" / "bin").mkdir(parents=True)
    (root / "venv" / "pyvenv.cfg").write_text(f"home = {Path(sys.executable).parent}\n")
    os.symlink(sys.executable, root / "venv" / "bin" / "python")
    chosen = project_python(root)
    assert chosen.executable == root / "venv" / "bin" / "python" and chosen.venv == root / "venv"
    assert chosen.source == "the project's venv/"
    with Sandbox(root) as sandbox:
        result = sandbox.run(script("import os, sys; print(sys.prefix, os.environ['VIRTUAL_ENV'])"), cwd=sandbox.copy("run"))
    assert result.output.split() == [str(root / "venv"), str(root / "venv")]


def test_a_started_process_is_stopped_with_its_whole_group(tmp_path):
    pids = tmp_path / "pids"
    with Sandbox(project(tmp_path)) as sandbox:
        process = sandbox.start(
            script(f"""
                import subprocess, sys, time
                child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
                open({str(pids)!r}, "w").write(str(child.pid))
                print("serving", flush=True)
                time.sleep(60)
            """),
            cwd=sandbox.copy("server"),
        )
        deadline = time.monotonic() + 10
        while not pids.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.running()
        child = int(pids.read_text())
        assert alive(child)
        process.stop(grace=1.0)
        assert not process.running()
        assert "serving" in process.output()
    deadline = time.monotonic() + 5
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child)


def test_a_client_run_beside_a_started_server_reaches_it_on_loopback_and_the_host_does_not(tmp_path):
    port_file = tmp_path / "port"
    with Sandbox(project(tmp_path)) as sandbox:
        copy = sandbox.copy("server")
        server = sandbox.start(
            script(f"""
                import socket
                server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(5)
                open({str(port_file)!r}, "w").write(str(server.getsockname()[1]))
                while True:
                    connection, _ = server.accept(); connection.sendall(b"hello"); connection.close()
            """),
            cwd=copy,
        )
        deadline = time.monotonic() + 10
        while not (port_file.exists() and port_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        port = int(port_file.read_text())
        client = sandbox.run(
            script(f"import socket; print(socket.create_connection(('127.0.0.1', {port}), timeout=5).recv(5))"),
            cwd=copy,
            timeout=20,
            beside=server,
        )
        assert "b'hello'" in client.output, client.output
        if sandbox.isolation.isolated:  # the server's loopback is its own
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=2).recv(5)


def test_ctrl_c_while_a_child_starts_is_held_until_the_child_is_known(tmp_path):
    """An interrupt in the middle of Popen would leave a child nobody can stop: it is held, and
    the run raises it once the child's group is known, and stopped."""
    import signal

    from fixers.pipeline import runner

    handler = signal.getsignal(signal.SIGINT)
    started = []
    real_popen = runner.subprocess.Popen

    def popen_interrupted(*args, **kwargs):
        child = real_popen(*args, **kwargs)
        started.append(child)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C lands while Popen is still returning
        return child

    sandbox = runner.Sandbox(tmp_path, isolate=False)
    try:
        runner.subprocess.Popen = popen_interrupted
        with pytest.raises(KeyboardInterrupt):
            sandbox.run([sys.executable, "-c", "import time; time.sleep(60)"], cwd=tmp_path, timeout=120)
    finally:
        runner.subprocess.Popen = real_popen
        sandbox.close()
    assert started and started[0].poll() is not None  # the child was stopped, not left running
    assert signal.getsignal(signal.SIGINT) is handler  # and Ctrl-C works as before again
