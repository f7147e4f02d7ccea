#!/usr/bin/env python3
"""Counts test cases from Bazel build-event files and prints `N passed, N failed`.

Each argument is a --build_event_json_file from one `bazel test` run. For every
test target that ran, the GoogleTest cases in its test.xml are counted (a case
with a <failure> or <error> is failed, a skipped one is not counted). A test
target that failed without a usable test.xml (crash, timeout, sanitizer abort
before the XML was written) and a test target that failed to build each count
as one failed case, so nothing that went wrong is lost from the total.
Exit status: 0 if nothing failed, 1 otherwise.
"""
import json
import os
import sys
import urllib.parse
import xml.etree.ElementTree as ET


def count_xml(path):
    passed = failed = 0
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    for case in root.iter("testcase"):
        if case.get("status") == "notrun" or case.get("result") == "skipped":
            continue
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        else:
            passed += 1
    return passed, failed


def xml_path(test_result):
    for output in test_result.get("testActionOutput", []):
        if output.get("name") == "test.xml":
            uri = output.get("uri", "")
            if uri.startswith("file://"):
                return urllib.parse.unquote(uri[len("file://"):])
    return None


def count_events(path):
    passed = failed = 0
    failed_targets = []
    bazel_exit = None
    unbuilt = []
    with open(path) as f:
        for line in f:
            event = json.loads(line)
            ident = event.get("id", {})
            if "testResult" in ident:
                label = ident["testResult"]["label"]
                result = event.get("testResult", {})
                status = result.get("status", "NO_STATUS")
                xml = xml_path(result)
                counts = count_xml(xml) if xml and os.path.exists(xml) else None
                if counts is None or (status != "PASSED" and counts[1] == 0):
                    # No usable XML, or the target failed outside any case
                    # (crash, timeout, sanitizer report at exit).
                    counts = (1, 0) if status == "PASSED" else (
                        counts[0] if counts else 0, 1)
                passed += counts[0]
                failed += counts[1]
                if status != "PASSED":
                    failed_targets.append(f"{label} ({status})")
            elif "targetCompleted" in ident or "targetConfigured" in ident:
                key = "targetCompleted" if "targetCompleted" in ident else "targetConfigured"
                label = ident[key].get("label", "?")
                broken = "aborted" in event or (
                    key == "targetCompleted" and
                    not event.get("completed", {}).get("success", True))
                if broken:
                    unbuilt.append(label)
            elif "buildFinished" in ident:
                bazel_exit = event.get("finished", {}).get(
                    "exitCode", {}).get("code", 0)
    if unbuilt:
        # One failure for the build, however many targets it took down.
        failed += 1
        failed_targets.append("did not build: " + ", ".join(sorted(set(unbuilt))))
    if bazel_exit is None or (bazel_exit != 0 and failed == 0):
        # Bazel stopped before reporting any target (e.g. a broken BUILD
        # file): count the run itself as one failure.
        failed += 1
        failed_targets.append(f"bazel exited with code {bazel_exit}")
    return passed, failed, failed_targets


def main(args):
    total_passed = total_failed = 0
    paths = []
    for arg in args:
        # --extra=NAME:PASSED:FAILED adds a check that is not a Bazel test.
        if arg.startswith("--extra="):
            name, passed, failed = arg[len("--extra="):].rsplit(":", 2)
            print(f"{name}: {passed} passed, {failed} failed")
            total_passed += int(passed)
            total_failed += int(failed)
        else:
            paths.append(arg)
    for path in paths:
        if not os.path.exists(path):
            print(f"{path}: no build events (bazel did not start?)")
            total_failed += 1
            continue
        passed, failed, failed_targets = count_events(path)
        print(f"{os.path.basename(path)}: {passed} passed, {failed} failed")
        for target in failed_targets:
            print(f"  failed: {target}")
        total_passed += passed
        total_failed += failed
    print(f"{total_passed} passed, {total_failed} failed")
    return 0 if total_failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
