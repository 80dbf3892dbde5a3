"""Views of a check :class:`~cnncalc.check.Summary`: plain lines, GitHub annotations, JUnit XML."""

from __future__ import annotations

from ..errors import printable


def text_lines(summary, shown=str) -> list[tuple[str, str]]:
    """One line per finding (``file:line: message``) and per layer warning (``file:line: warning:
    message``), with its severity ('error', 'fail' or 'warning') to colour it by; ``shown`` maps
    a file to the name to print. Control characters from a spec are escaped."""
    return [(" ".join(printable(f.oneline(shown(f.file))).split()), f.severity)
            for r in summary.results for f in (*r.warnings, *r.findings)]


def _escape_data(s: str) -> str:
    return printable(s).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def github_lines(summary) -> list[str]:
    """GitHub Actions workflow commands: ``::error file=F,line=L,title=T::message``, one per finding,
    and ``::warning …`` per layer warning. GitHub shows each on the YAML line in the pull request."""
    out = []
    for r in summary.results:
        for w in r.warnings:
            props = [f"file={_escape_property(w.file)}"] + ([f"line={w.line}"] if w.line else [])
            props.append(f"title={_escape_property('cnncalc: warning')}")
            out.append(f"::warning {','.join(props)}::{_escape_data(w.message)}")
        for f in r.findings:
            props = [f"file={_escape_property(f.file)}"]
            if f.line:
                props.append(f"line={f.line}")
            title = "cnncalc: invalid spec" if f.severity == "error" else "cnncalc: expectation failed"
            props.append(f"title={_escape_property(title)}")
            out.append(f"::error {','.join(props)}::{_escape_data(f.message)}")
    return out


def junit_xml(summary) -> str:
    """JUnit XML as Jenkins' xunit schema (junit-10.xsd, which pytest's xunit2 also follows) defines
    it: one testsuite per spec, one testcase per expectation; a failed expectation is a <failure>,
    an invalid spec an <error>. That schema has no place for a line number on a testcase, so
    ``file:line:`` starts the failure's text, and the testsuite carries the file."""
    import socket
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites", name="cnncalc check")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    host = socket.gethostname()
    for r in summary.results:
        cases = r.cases
        failures = sum(c.status == "fail" for c in cases)
        errors = sum(c.status == "error" for c in cases)
        suite = ET.SubElement(root, "testsuite", name=printable(r.model or r.file), tests=str(len(cases)),
                              failures=str(failures), errors=str(errors), skipped="0",
                              time=f"{r.seconds:.3f}", timestamp=summary.started, hostname=printable(host),
                              file=printable(r.file))
        totals["tests"] += len(cases)
        totals["failures"] += failures
        totals["errors"] += errors
        for c in cases:
            case = ET.SubElement(suite, "testcase", name=printable(c.name), classname=printable(r.model or r.file),
                                 time="0")
            for f in c.findings:  # (XML 1.0 cannot hold a control character even as &#1;: escape it)
                tag = "error" if f.severity == "error" else "failure"
                el = ET.SubElement(case, tag, message=printable(f.message),
                                   type="InvalidSpec" if tag == "error" else "ExpectationFailed")
                el.text = printable(f.oneline())
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", f"{sum(r.seconds for r in summary.results):.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
