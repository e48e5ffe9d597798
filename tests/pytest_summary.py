#!/usr/bin/python3
"""Summarise a pytest run for tests/run.sh from its JUnit XML and the node ids
`pytest --collect-only -q` listed before it.

Prints one line per test file and "pytest: N passed, N failed, N skipped", and
exits 1 when the run did not do what was collected: a collection error, a file
that collected no test (when every file was asked for), fewer tests run than
collected (a crash or a killed run), or no XML at all.
Usage: pytest_summary.py JUNIT_XML COLLECTED_IDS TEST_DIR [--all-files]"""
import collections
import glob
import os
import sys
import xml.etree.ElementTree as ET


def file_of(classname, name):
    """tests.integration.test_x[.Class] -> test_x.py (collection errors name the module)."""
    for part in (classname or name).split("."):
        if part.startswith("test_"):
            return part + ".py"
    return classname or name


def main():
    xml_path, ids_path, test_dir = sys.argv[1:4]
    all_files = "--all-files" in sys.argv[4:]
    problems = []
    collected = collections.Counter()
    with open(ids_path) as f:
        for line in f:
            line = line.strip()
            if "::" in line:
                collected[os.path.basename(line.split("::", 1)[0])] += 1
    if all_files:
        for path in sorted(glob.glob(os.path.join(test_dir, "test_*.py"))):
            if collected[os.path.basename(path)] == 0:
                problems.append("%s collected no test" % os.path.basename(path))
    # Worst outcome per test case (a teardown error may add a second entry).
    rank = {"passed": 0, "skipped": 1, "failed": 2}
    cases = {}
    try:
        root = ET.parse(xml_path).getroot()
    except (OSError, ET.ParseError) as e:
        root = None
        problems.append("no pytest results (%s): the run crashed or was killed" % e)
    for tc in (root.iter("testcase") if root is not None else ()):
        if tc.find("failure") is not None or tc.find("error") is not None:
            out = "failed"
        elif tc.find("skipped") is not None:
            out = "skipped"
        else:
            out = "passed"
        key = (tc.get("classname", ""), tc.get("name", ""))
        if not key[0]:
            problems.append("collection error in %s" % file_of("", key[1]))
        if rank[out] > rank[cases.get(key, "passed")] or key not in cases:
            cases[key] = out
    per_file = collections.defaultdict(collections.Counter)
    for (cls, name), out in cases.items():
        per_file[file_of(cls, name)][out] += 1
    ran = sum(1 for (cls, _) in cases if cls)
    total = collections.Counter()
    for fname in sorted(set(per_file) | set(collected)):
        c = per_file[fname]
        total.update(c)
        print("pytest %s: %d passed, %d failed, %d skipped" % (fname, c["passed"], c["failed"],
                                                              c["skipped"]))
    want = sum(collected.values())
    if want == 0:
        problems.append("pytest collected no test")
    if ran < want:
        problems.append("pytest ran %d of the %d tests it collected" % (ran, want))
    for p in problems:
        print("pytest: FAILED, " + p)
    failed = total["failed"] + (1 if problems and total["failed"] == 0 else 0)
    print("pytest: %d passed, %d failed, %d skipped (%d collected)" % (
        total["passed"], failed, total["skipped"], want))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
