"""The release checklist as one self-contained HTML page (``report --format html``).

For a sign-off that is attached to a release or opened from a CI artifact: no script, no
external stylesheet, font or image, so it renders the same offline, from a zip, or in a mail
client. Every dynamic string goes through :func:`html.escape`. Checked in headless Chromium by
the tests (a screenshot is taken and the rendered DOM read back).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence

from wheelguard.report.checklist import STATUS_LABEL, WheelChecklist
from wheelguard.report.provenance import RunInfo
from wheelguard.report.text import display_path, one_line

__all__ = ["render_checklist_html"]

_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
       margin: 2rem auto; max-width: 72rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem;
     border-bottom: 1px solid #d0d7de; padding-bottom: .3rem; word-break: break-all; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
              font-size: .88em; }
table { border-collapse: collapse; margin: .6rem 0; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
ul.items { list-style: none; padding-left: 0; }
ul.items > li { margin: .35rem 0; }
ul.findings { margin: .2rem 0 .4rem 2.2rem; padding-left: 1rem; font-size: .9em; }
ul.findings li { word-break: break-word; }
.badge { display: inline-block; min-width: 6.5rem; text-align: center; border-radius: 1rem;
         padding: 0 .5rem; font-size: .8rem; font-weight: 600; margin-right: .4rem; }
.pass { background: #dafbe1; color: #116329; } .warn { background: #fff8c5; color: #7d4e00; }
.fail { background: #ffebe9; color: #a40e26; } .skip { background: #eaeef2; color: #424a53; }
.verdict { font-size: 1.05rem; font-weight: 600; }
.meta { color: #57606a; font-size: .9em; }
input[type=checkbox] { margin-right: .4rem; vertical-align: middle; }
"""


def _e(text: object) -> str:
    return html.escape(one_line(str(text)), quote=True)


def _badge(status: str) -> str:
    return f'<span class="badge {status}">{_e(STATUS_LABEL[status])}</span>'  # type: ignore[index]


def _wheel(c: WheelChecklist) -> list[str]:
    w = c.result.wheel
    out = [f'<section id="{_e(w.filename)}">', f"<h2><code>{_e(display_path(w.path))}</code></h2>",
           f'<p class="meta">{_e(w.name)} {_e(w.version)}; sha256 <code>{_e(c.sha256)}</code>; '
           f"{len(w.members)} files, {len(w.binaries)} native; tags "
           f"{_e(', '.join(sorted(str(t) for t in w.tags)))}</p>",
           f'<p class="verdict">Verdict: {_e(c.verdict)}</p>', '<ul class="items">']
    for i in c.items:
        checked = " checked" if i.status in ("pass", "warn") else ""
        out.append(f'<li class="item {i.status}" data-item="{_e(i.item.id)}">'
                   f'<input type="checkbox" disabled{checked} '
                   f'aria-label="{_e(STATUS_LABEL[i.status])}">{_badge(i.status)}'
                   f"<strong>{_e(i.item.title)}</strong> <span class=\"meta\">{_e(i.detail)}"
                   "</span>")
        if i.findings:
            out.append('<ul class="findings">')
            for f in i.findings:
                where = f"<code>{_e(f.path)}</code>: " if f.path else ""
                source = f" <span class=\"meta\">(from {_e(f.source)})</span>" if f.source else ""
                out.append(f"<li><code>{_e(f.check)}</code> {_e(f.name)} ({_e(f.severity.label)})"
                           f": {where}{_e(f.message)}{source}</li>")
            out.append("</ul>")
        out.append("</li>")
    out.append("</ul>")
    if c.waivers:
        out += ["<h3>Waived or kept by policy (or known in the baseline)</h3>", "<ul>"]
        out += [f"<li><code>{_e(f.check)}</code> {_e(f.name)} at "
                f"{'<code>' + _e(f.path) + '</code>' if f.path else 'the wheel'}: {_e(f.waived)}"
                "</li>" for f in c.waivers]
        out.append("</ul>")
    if c.changes is not None:
        from wheelguard.report.diff import diff_summary_lines

        out += ["<h3>Changes since the baseline</h3>", "<ul>"]
        out += [f"<li>{_e(line)}</li>" for line in diff_summary_lines(c.changes)]
        out.append("</ul>")
    if c.smoke is not None:
        summary = c.smoke.get("summary", {})
        layouts = summary.get("layouts", {})
        out += ["<h3>Smoke run</h3>",
                f"<p>Result: <strong>{_e(summary.get('status'))}</strong> (GPU: "
                f"{_e(summary.get('gpu'))})</p>",
                "<table><tr><th>layout</th><th>status</th></tr>"]
        out += [f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in layouts.items()]
        out.append("</table>")
    out.append("</section>")
    return out


def render_checklist_html(checklists: Sequence[WheelChecklist], *, run: RunInfo | None = None,
                          today: dt.date | None = None, smoke_files: Sequence[str] = ()) -> str:
    run = run or RunInfo()
    day = (today or dt.date.today()).isoformat()
    ready = sum(c.ready for c in checklists)
    overall = "ready to ship" if ready == len(checklists) else "not ready"
    body = [f"<h1>Release checklist ({_e(day)})</h1>",
            f'<p class="verdict" id="verdict">Verdict: {_e(overall)}: {ready} of '
            f"{len(checklists)} wheel(s) ready.</p>",
            "<table><tr><th>wheel</th><th>verdict</th><th>failed</th><th>not checked</th></tr>"]
    for c in checklists:
        failed = ", ".join(i.item.id for i in c.items if i.status == "fail") or "-"
        skipped = ", ".join(i.item.id for i in c.items if i.status == "skip") or "-"
        body.append(f'<tr><td><a href="#{_e(c.result.wheel.filename)}"><code>'
                    f"{_e(display_path(c.result.wheel.path))}</code></a></td>"
                    f"<td>{_e(c.verdict)}</td><td>{_e(failed)}</td><td>{_e(skipped)}</td></tr>")
    body.append("</table>")
    policies = "".join(f"<li>{_e(p.name)}: <code>{_e(p.source)}</code>, sha256 "
                       f"<code>{_e(p.sha256)}</code></li>" for p in run.policies)
    saved = sorted({c.saved.source for c in checklists if c.saved is not None})
    body += ['<h3>Judged by</h3><ul class="meta">',
             f"<li>wheelguard {_e(run.tool_version)} on {_e(run.python)}</li>",
             f"<li>command: <code>{_e(' '.join(run.command) or 'wheelguard report')}</code></li>",
             f"<li>configuration: {_e(run.config.describe())}</li>",
             f"<li>policies: {_e(run.policy_text())}"
             + (f"<ul>{policies}</ul>" if policies else "") + "</li>",
             f"<li>dependency wheels (linkage checks): {_e(run.linkage or 'none given')}"
             + (f"; saved audits: {_e(', '.join(saved))}" if saved else "") + "</li>",
             f"<li>smoke results: {_e(', '.join(smoke_files) or 'none given')}</li>"]
    if run.baseline:
        body.append(f"<li>baseline: <code>{_e(run.baseline)}</code></li>")
    body.append("</ul>")
    for c in checklists:
        body += _wheel(c)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>Release checklist ({_e(day)})</title><style>{_CSS}</style></head>\n"
            "<body>\n" + "\n".join(body) + "\n</body></html>\n")
