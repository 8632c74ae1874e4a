"""``wheelguard diff`` output: one line per change (text), or a section of the checklist
(Markdown). Renders the data of :func:`wheelguard.compare.compare_wheels`; computes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wheelguard.util.units import format_bytes

__all__ = ["diff_markdown", "diff_summary_lines", "diff_text_lines"]


def _size(d: Mapping[str, Any]) -> str:
    sign = "+" if d["delta"] >= 0 else "-"
    pct = f", {d['percent']:+.1f}%" if d.get("percent") is not None else ""
    return (f"{format_bytes(d['old'])} -> {format_bytes(d['new'])} "
            f"({sign}{format_bytes(abs(d['delta']))}{pct})")


def diff_summary_lines(doc: Mapping[str, Any]) -> list[str]:
    """The changes that matter for shipping, one line each, without the file lists."""
    out = [f"version {doc['version']['old']} -> {doc['version']['new']}"]
    if doc["tags"]["added"] or doc["tags"]["removed"]:
        out.append("tags: " + " ".join([*(f"+{t}" for t in doc["tags"]["added"]),
                                        *(f"-{t}" for t in doc["tags"]["removed"])]))
    size = doc["size"]
    out.append(f"size: file {_size(size['file'])}; installed {_size(size['installed'])}; "
               f"files {size['files']['old']} -> {size['files']['new']}")
    req = doc["requires_dist"]
    req_parts = [*(f"+{r}" for r in req["added"]), *(f"-{r}" for r in req["removed"]),
                 *(f"{c['name']} {c['old']} -> {c['new']}" for c in req["changed"])]
    if req_parts:
        out.append("Requires-Dist: " + "; ".join(req_parts))
    libs = doc["libraries"]
    for p in libs["added"]:
        out.append(f"library added: {p}")
    for p in libs["removed"]:
        out.append(f"library removed: {p}")
    for b in doc["binaries"]:
        parts = []
        if "soname" in b:
            parts.append(f"SONAME {b['soname']['old']} -> {b['soname']['new']}")
        if "needed" in b:
            parts.append("NEEDED " + " ".join([*(f"+{n}" for n in b["needed"]["added"]),
                                               *(f"-{n}" for n in b["needed"]["removed"])]))
        for tag in ("rpath", "runpath"):
            if tag in b:
                parts.append(f"{tag.upper()} {':'.join(b[tag]['old']) or '(none)'} -> "
                             f"{':'.join(b[tag]['new']) or '(none)'}")
        out.append(f"{b['path']}: {'; '.join(parts)}")
    files = doc["files"]
    out.append(f"files: {len(files['added'])} added, {len(files['removed'])} removed, "
               f"{len(files['grown'])} grown, {len(files['shrunk'])} shrunk, "
               f"{files['changed']} with new content")
    return out


def diff_text_lines(doc: Mapping[str, Any], *, max_files: int | None = 25) -> list[str]:
    """The summary, then the files added, removed and grown (largest first); at most
    ``max_files`` of each unless None, with the count of the rest (JSON lists all)."""
    out = [f"{doc['old']['filename']} -> {doc['new']['filename']}"]
    out += [f"  {line}" for line in diff_summary_lines(doc)]
    files = doc["files"]
    for key, mark in (("added", "+"), ("removed", "-"), ("grown", ">")):
        items = files[key]
        if key != "grown":
            items = sorted(items, key=lambda d: -d["size"])
        shown = items if max_files is None else items[:max_files]
        for item in shown:
            if key == "grown":
                out.append(f"  {mark} {item['path']} {_size(item)}")
            else:
                out.append(f"  {mark} {item['path']} ({format_bytes(item['size'])})")
        if len(items) > len(shown):
            out.append(f"  ... {len(items) - len(shown)} more files {key} (--max-files 0 "
                       "lists all; --format json too)")
    return out


def diff_markdown(doc: Mapping[str, Any]) -> str:
    """A section for the release checklist: what changed since the baseline release."""
    lines = [f"Changes since the baseline `{doc['old']['filename']}`:", ""]
    lines += [f"- {line}" for line in diff_summary_lines(doc)]
    return "\n".join(lines) + "\n"
