"""The front page and docs/ keep their links: every relative link and image resolves.

README.md is the front page and docs/*.md hold the detail, so a moved section or a renamed heading
breaks links between them silently; these tests catch that. External links (http, mailto) are not
fetched.
"""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# [text](target) and ![alt](target), with an optional "title"; link text may hold `code`.
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_REF = re.compile(r"<(?:img|a)\s[^>]*?(?:src|href)=\"([^\"]+)\"", re.IGNORECASE)
HTML_ANCHOR = re.compile(r"<a\s[^>]*?(?:id|name)=\"([^\"]+)\"", re.IGNORECASE)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
FENCE = re.compile(r"^\s*(```|~~~)")


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: markup dropped, lower case, punctuation out, spaces -> '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts by its text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every #anchor a markdown file defines: its headings' slugs (repeats get -1, -2) and <a id>."""
    found, seen = set(), {}
    in_fence = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        found.update(HTML_ANCHOR.findall(line))
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            slug = github_slug(heading.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def link_targets(path: Path) -> list[str]:
    """The link and image targets in a markdown file's prose (code blocks and spans excluded)."""
    original = path.read_text(encoding="utf-8")
    targets = []
    # Link text may contain code spans, so links are read from the text with fences removed
    # but code spans kept; targets that sit inside a code span are dropped afterwards.
    in_fence = False
    for line in original.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        outside_code = re.sub(r"`[^`]*`", lambda m: " " * len(m.group(0)), line)
        for match in list(LINK.finditer(line)) + list(HTML_REF.finditer(line)):
            if outside_code[match.start()] != " ":
                targets.append(match.group(1))
    return targets


def broken_links(path: Path, root: Path) -> list[str]:
    """One line per link or image in `path` that points nowhere: a missing file or a missing #anchor."""
    problems = []
    for target in link_targets(path):
        if SCHEME.match(target):
            continue  # external: not checked offline
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path.resolve()
        where = f"{path.relative_to(root)}: ({target})"
        if not resolved.is_relative_to(root.resolve()):
            problems.append(f"{where} leaves the repository")
        elif not resolved.exists():
            problems.append(f"{where} -> no file {resolved.relative_to(root.resolve())}")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{where} -> no heading #{anchor} in {resolved.relative_to(root.resolve())}")
    return problems


def doc_files(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def test_every_relative_link_and_image_resolves():
    problems = [line for path in doc_files(REPO) for line in broken_links(path, REPO)]
    assert problems == [], "broken links (fix the target or the heading):\n" + "\n".join(problems)


def test_every_docs_page_is_in_the_index():
    index = REPO / "docs" / "README.md"
    linked = {(index.parent / t.partition("#")[0]).resolve() for t in link_targets(index)}
    pages = [p for p in sorted((REPO / "docs").glob("*.md")) if p.name != "README.md"]
    missing = [p.name for p in pages if p.resolve() not in linked]
    assert missing == [], f"docs pages not listed in docs/README.md (add a row for each): {missing}"


def test_front_page_starts_with_the_two_set_up_commands():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    first_block = text.split("```")[1]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()[1:] if line.strip()]
    assert commands == ["make demo", "make test"]


def test_checker_reports_missing_files_and_anchors(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "pic.png").write_bytes(b"png")
    (tmp_path / "docs" / "page.md").write_text(
        "# Speed: `torchrun` and DDP\n\n## Notes\n\n## Notes\n", encoding="utf-8"
    )
    (tmp_path / "README.md").write_text(
        "# Front\n\n## What it can do\n\n"
        "![ok](docs/pic.png) [ok](docs/page.md#speed-torchrun-and-ddp) [ok](docs/page.md#notes-1)\n"
        "[ok](#what-it-can-do) [web](https://example.org/x.md#nothing) `[code](nowhere.md)`\n"
        "![gone](docs/missing.png) [bad anchor](docs/page.md#speed) [bad local](#front-page)\n"
        "[`code` in text](docs/page.md#notes-2)\n"
        "```\n[in a fence](nowhere.md)\n```\n",
        encoding="utf-8",
    )
    problems = broken_links(tmp_path / "README.md", tmp_path)
    assert len(problems) == 4, problems
    assert "no file docs/missing.png" in problems[0]
    assert "no heading #speed in docs/page.md" in problems[1]
    assert "no heading #front-page in README.md" in problems[2]
    assert "no heading #notes-2" in problems[3]


def test_github_slugs():
    assert github_slug("Watch the game live: `ganforge lab`") == "watch-the-game-live-ganforge-lab"
    assert github_slug("Run folders, checkpoints and faults") == "run-folders-checkpoints-and-faults"
    assert github_slug("What `make demo` makes") == "what-make-demo-makes"
    assert github_slug("The 2-D mode-collapse benchmark (PacGAN's protocol)") == (
        "the-2-d-mode-collapse-benchmark-pacgans-protocol"
    )
