"""Harness of the Python client's tests (the Python twin of
tests/server/server_process.h): runs a real mvkv_server process (the Bazel
`data` binary) on 127.0.0.1 with a free port, waits until it answers the
health check with SERVING, and stops it at the end; polls for a state with a
bound in time; and runs a test file's unittest cases, writing the JUnit XML
that Bazel (and CI's count of test cases) reads.

Every process started through spawn() dies with the test: it gets SIGKILL
when the test process dies (setpriv --pdeathsig, so nothing runs in the
forked child before exec), and ServerProcess is a context manager that
kills what is still running.
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

import mvkv

_SERVING_LINE = re.compile(r'"msg":"serving".*"port":"(\d+)"')


def runfile(path):
    """The path of a runfile, e.g. runfile("server/mvkv_server")."""
    root = os.environ.get("TEST_SRCDIR")
    if root is None:
        return path
    return os.path.join(root, os.environ.get("TEST_WORKSPACE", "mvkv"), path)


def temp_dir(name):
    """A fresh directory under TEST_TMPDIR."""
    return tempfile.mkdtemp(prefix=name + "-", dir=os.environ.get("TEST_TMPDIR"))


def wait_for(predicate, what, timeout=15.0, interval=0.02):
    """Polls predicate() until it returns something true, and returns that;
    AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def spawn(argv, stdout, **popen_args):
    """subprocess.Popen(argv) with stdin from /dev/null, `stdout` (stderr
    too unless given), that gets SIGKILL when the test process dies (so a
    test killed by Bazel leaves no process behind). The pid is argv's:
    setpriv execs it."""
    popen_args.setdefault("stderr", subprocess.STDOUT)
    return subprocess.Popen(
        ["/usr/bin/setpriv", "--pdeathsig", "KILL", "--", *argv],
        stdin=subprocess.DEVNULL, stdout=stdout, **popen_args)


def child_env():
    """The environment for a child Python process: it imports what this
    test imports (mvkv and the harness)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


def exit_code(returncode):
    """Shell convention: 128 + signal for a process killed by one."""
    return 128 - returncode if returncode < 0 else returncode


class ServerProcess:
    """server/mvkv_server --listen=`listen` (default 127.0.0.1:0: a free
    port) plus `args`, logging to a file
    in TEST_TMPDIR. The constructor returns once the log's "serving" line
    names the port and the health check (made as a client with
    `client_options`) says SERVING, within `timeout` seconds."""

    def __init__(self, *args, timeout=60.0, listen="127.0.0.1:0",
                 **client_options):
        self.log_path = os.path.join(temp_dir("server-log"), "server.log")
        self._client_options = client_options
        argv = [runfile("server/mvkv_server"), f"--listen={listen}", *args]
        with open(self.log_path, "wb") as log:
            self.process = spawn(argv, subprocess.DEVNULL, stderr=log)
        try:
            self._wait_until_serving(time.monotonic() + timeout)
        except BaseException:
            self.kill()
            raise

    def _wait_until_serving(self, deadline):
        self.port = None
        while self.port is None:
            match = _SERVING_LINE.search(self.log())
            if match:
                self.port = int(match.group(1))
                break
            if self.process.poll() is not None:
                raise RuntimeError(f"mvkv_server exited: {self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"mvkv_server did not start: {self.log()}")
            time.sleep(0.02)
        with self.client(timeout=2.0) as probe:
            while True:
                try:
                    probe.health()
                    return
                except mvkv.MvkvError as e:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"mvkv_server not SERVING: {e}")
                time.sleep(0.02)

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self):
        return self.process.pid

    def client(self, **options):
        """A client of this server: the constructor's client options,
        overridden by `options`."""
        return mvkv.Client(self.address, **{**self._client_options, **options})

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=30.0):
        """Sends `sig` and waits up to `timeout` seconds; the exit code, or
        -1 on timeout (then SIGKILL)."""
        if self.process.poll() is not None:
            return exit_code(self.process.returncode)
        self.process.send_signal(sig)
        try:
            return exit_code(self.process.wait(timeout))
        except subprocess.TimeoutExpired:
            self.kill()
            return -1

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        return False


def wait_no_open_txns(client, what="no open transaction or snapshot",
                      timeout=15.0):
    """Waits until the server holds no session txn, handle or snapshot
    (a stream's end is noticed by the server asynchronously); the Stats."""
    def idle():
        s = client.stats()
        return s if (s["open_session_txns"] == 0 and s["open_handles"] == 0
                     and s["active_snapshots"] == 0) else None
    return wait_for(idle, what, timeout)


class ServerTestCase(unittest.TestCase):
    """A test class whose tests share one server, started with the class's
    SERVER_ARGS and required to exit 0 on SIGTERM at the end; each test gets
    its own self.client."""

    SERVER_ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.server = ServerProcess(*cls.SERVER_ARGS)
        cls.addClassCleanup(cls.server.kill)

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        if code != 0:
            raise AssertionError(f"mvkv_server exited {code}: {cls.server.log()}")

    def setUp(self):
        self.client = self.server.client()
        self.addCleanup(self.client.close)


class _Result(unittest.TextTestResult):
    """Remembers each test's outcome for the XML."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cases = []  # (test, None | (tag, text))

    def addSuccess(self, test):
        super().addSuccess(test)
        self.cases.append((test, None))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.cases.append((test, ("failure", self._exc_info_to_string(err, test))))

    def addError(self, test, err):
        super().addError(test, err)
        self.cases.append((test, ("error", self._exc_info_to_string(err, test))))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.cases.append((test, ("failure", "unexpected success")))


def _write_xml(path, result):
    root = ET.Element("testsuites")
    suite = ET.SubElement(root, "testsuite", name=os.path.basename(sys.argv[0]),
                          tests=str(len(result.cases)),
                          failures=str(len(result.failures)),
                          errors=str(len(result.errors)))
    for test, outcome in result.cases:
        name = test.id()
        classname, _, method = name.rpartition(".")
        case = ET.SubElement(suite, "testcase", name=method or name,
                             classname=classname)
        if outcome is not None:
            tag, text = outcome
            ET.SubElement(case, tag, message=text.splitlines()[-1]).text = text
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def main():
    """Runs the calling module's unittest cases, writes XML_OUTPUT_FILE if
    Bazel set it, and exits 0 if all passed."""
    program = unittest.main(module="__main__", exit=False, verbosity=2,
                            testRunner=unittest.TextTestRunner(
                                resultclass=_Result, verbosity=2,
                                stream=sys.stdout))
    result = program.result
    path = os.environ.get("XML_OUTPUT_FILE")
    if path:
        _write_xml(path, result)
    sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)
