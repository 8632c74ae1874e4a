"""The release checklist checks what it ticks and renders where it is read: Markdown through
GitHub's own renderer (cmark-gfm) and CommonMark with task lists, HTML in headless Chromium."""

from __future__ import annotations

import html.parser
import json
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest
from helpers.cli import run_inprocess
from helpers.fixtures import BuiltFixture

from wheelguard.audit import AuditOptions, audit_wheel
from wheelguard.linkage.fetch import ProviderLookup
from wheelguard.report.checklist import build_checklist, render_checklist_markdown
from wheelguard.report.checklist_html import render_checklist_html
from wheelguard.rules import ITEMS

Wheels = Mapping[str, BuiltFixture]


def _report(*args: str | Path) -> tuple[int, str, str]:
    return run_inprocess(["report", *args])


def test_an_unread_provider_leaves_the_loader_item_not_checked(
    fixture_wheels: Wheels, tmp_path: Path
) -> None:
    """Linkage ran, but the provider's wheel was not in the wheelhouse: no pass."""
    house = tmp_path / "empty"
    house.mkdir()
    wheel = fixture_wheels["wg301_needed_undeclared_provider"].path
    result = audit_wheel(wheel, AuditOptions(providers=ProviderLookup(wheelhouses=(house,))))
    (c,) = build_checklist([result])
    loader = next(i for i in c.items if i.item.id == "loader")
    assert loader.status in ("skip", "fail")
    assert "could not be checked" in loader.detail


def test_saved_audit_supplies_the_linkage_checks(fixture_wheels: Wheels, tmp_path: Path
                                                 ) -> None:
    wheel = fixture_wheels["clean"].path
    house = tmp_path / "house"
    house.mkdir()
    saved = tmp_path / "audit.json"
    rc, _out, err = run_inprocess(["audit", "--format", "json", "--wheelhouse", house, "-o",
                                   saved, wheel])
    assert rc == 0, err
    out = tmp_path / "r.json"
    rc, _o, err = _report(wheel, "--audit", saved, "--format", "json", "-o", out)
    doc = json.loads(out.read_text(encoding="utf-8"))
    items = {i["id"]: i["status"] for i in doc["wheels"][0]["items"]}
    assert items["loader"] == "pass"
    assert items["one-runtime"] == "pass"
    assert doc["wheels"][0]["saved_audit"] == str(saved)
    # A saved audit of another build (sha256) matches nothing: an error, not a silent skip.
    other = fixture_wheels["wg205_rpath_missing_dir"].path
    rc, _o, err = _report(other, "--audit", saved)
    assert rc == 2
    assert "none of its wheels is among those given" in err


def test_smoke_result_for_no_wheel_given_is_an_error(fixture_wheels: Wheels, tmp_path: Path
                                                    ) -> None:
    smoke = tmp_path / "smoke.json"
    smoke.write_text(json.dumps({"wheel": {"filename": "other-1.0-py3-none-any.whl",
                                           "sha256": "0" * 64}}), encoding="utf-8")
    rc, _out, err = _report(fixture_wheels["clean"].path, "--smoke", smoke)
    assert rc == 2
    assert "not among the wheels given" in err


def test_records_how_it_was_judged(fixture_wheels: Wheels) -> None:
    wheel = fixture_wheels["clean"].path
    rc, out, _err = _report(wheel, "--policy", "tvm-ffi", "--size-budget", "10MB")
    assert rc == 1  # smoke and linkage not checked: not signed off
    assert "- wheelguard 0.1.0 on CPython " in out or "- wheelguard " in out
    assert f"- command: `wheelguard report {wheel} --policy tvm-ffi --size-budget 10MB`" in out
    assert "    - tvm-ffi: `<shipped>/tvm-ffi.toml`, sha256 `" in out
    assert "- [x] **Within the size budget**: pass" in out
    assert "- [ ] **Installs offline in fresh environments" in out
    assert ": not checked (no smoke result" in out
    assert "see the audit JSON" not in out


def _markdown(fixture_wheels: Wheels) -> str:
    results = [audit_wheel(fixture_wheels[n].path) for n in ("clean", "wg201_rpath_absolute")]
    return render_checklist_markdown(build_checklist(results))


def test_markdown_renders_checkboxes_on_github(fixture_wheels: Wheels) -> None:
    cmarkgfm = pytest.importorskip("cmarkgfm")
    from cmarkgfm.cmark import Options

    text = _markdown(fixture_wheels)
    page = cmarkgfm.github_flavored_markdown_to_html(text, options=Options.CMARK_OPT_UNSAFE)
    boxes = page.count('<input type="checkbox"')
    assert boxes == 2 * (len(ITEMS) + 1)  # every item of both wheels, smoke included
    assert page.count('checked="" disabled=""') == 3 + 2  # clean: 3 pass; wg201: 2 pass
    assert "<table>" in page
    # The findings are a list nested in their item, not loose paragraphs.
    assert "<ul>\n<li>WG201 rpath-absolute" in page


def test_markdown_renders_with_commonmark_task_lists(fixture_wheels: Wheels) -> None:
    markdown_it = pytest.importorskip("markdown_it")
    tasklists = pytest.importorskip("mdit_py_plugins.tasklists")
    text = _markdown(fixture_wheels)
    md = markdown_it.MarkdownIt("commonmark").enable("table")
    md.use(tasklists.tasklists_plugin)
    page = md.render(text)
    assert page.count('type="checkbox"') == 2 * (len(ITEMS) + 1)
    # Without task-list support the status is still there in words.
    plain = markdown_it.MarkdownIt("commonmark").render(text)
    assert "[ ] <strong>RPATH/RUNPATH entries are relative to $ORIGIN and stay inside the " \
           "wheel</strong>: FAIL" in plain


class _Refs(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.refs += [v or "" for k, v in attrs if k in ("src", "href")]


def test_html_page_is_self_contained_and_escaped(tmp_path: Path) -> None:
    from helpers.wheels import build_wheel

    wheel = build_wheel(tmp_path, {"demo/__init__.py": b"",
                                   "demo/<script>x/CMakeLists.txt": b"project(x)\n"})
    page = render_checklist_html(build_checklist([audit_wheel(wheel)]))
    parser = _Refs()
    parser.feed(page)
    assert "script" not in parser.tags
    assert "link" not in parser.tags
    assert all(ref.startswith("#") for ref in parser.refs)  # only in-page anchors
    assert "&lt;script&gt;x" in page


def test_html_page_in_headless_chromium(fixture_wheels: Wheels, tmp_path: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    page = tmp_path / "RELEASE.html"
    rc, _out, err = _report(fixture_wheels["clean"].path, fixture_wheels["wg201_rpath_absolute"]
                            .path, "--format", "html", "-o", page)
    assert rc == 1, err
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--window-size=1280,1400"]
    shot = tmp_path / "RELEASE.png"
    subprocess.run([*flags, f"--screenshot={shot}", page.as_uri()], capture_output=True,
                   timeout=120, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert dom.count('type="checkbox"') == 2 * (len(ITEMS) + 1)
    assert 'id="verdict">Verdict: not ready: 0 of 2 wheel(s) ready.' in dom
