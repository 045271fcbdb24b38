"""Template-browser thumbnails (`workflows/<name>.jpg`): for the demos, frames of the demo model's real
output (tests/demo.py --thumbnails runs them); for workflows that need downloads, a labelled diagram of the
workflow's stages (its group titles, in order) and the files it needs."""
import re
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageSequence

SIZE = 320            # square, as the template cards crop them
BAND = 64             # caption band at the bottom
BG, FG, ACCENT = (30, 30, 34), (235, 235, 235), (79, 195, 247)


def font(size: int):
    return ImageFont.load_default(size=size)


def wrap(draw, text: str, width: int, f) -> list[str]:
    words, lines = text.split(), [""]
    for w in words:
        trial = f"{lines[-1]} {w}".strip()
        if draw.textlength(trial, font=f) <= width or not lines[-1]:
            lines[-1] = trial
        else:
            lines.append(w)
    return lines


def caption(im: Image.Image, title: str, sub: str = "") -> None:
    d = ImageDraw.Draw(im)
    d.rectangle([0, SIZE - BAND, SIZE, SIZE], fill=BG)
    y = SIZE - BAND + 6
    for line in wrap(d, title, SIZE - 16, font(16))[:2]:
        d.text((8, y), line, font=font(16), fill=FG)
        y += 19
    if sub:
        d.text((8, y), sub, font=font(12), fill=ACCENT)


def frames_of(path: Path, picks: int) -> list[Image.Image]:
    with Image.open(path) as im:
        frames = [f.convert("RGB") for f in ImageSequence.Iterator(im)]
    idx = [round(i * (len(frames) - 1) / max(picks - 1, 1)) for i in range(picks)]
    return [frames[i] for i in idx]


def from_outputs(outputs: list[Path], title: str, labels: list[str] | None = None) -> Image.Image:
    """Frames of up to two output videos: one video gives a 2x2 grid (first to last frame), two give a row
    each (first and last frame), labelled."""
    im = Image.new("RGB", (SIZE, SIZE), BG)
    area = SIZE - BAND
    rows = outputs[:2] if len(outputs) > 1 else [outputs[0], outputs[0]]
    picks = frames_of(rows[0], 4) if len(outputs) == 1 else None
    cell = (SIZE // 2, area // 2)
    d = ImageDraw.Draw(im)
    for r, video in enumerate(rows):
        frames = picks[2 * r:2 * r + 2] if picks else frames_of(video, 2)
        for c, frame in enumerate(frames):
            im.paste(frame.resize(cell, Image.LANCZOS), (c * cell[0], r * cell[1]))
        if labels and len(outputs) > 1:
            d.rectangle([0, r * cell[1], d.textlength(labels[r], font=font(12)) + 8, r * cell[1] + 16], fill=BG)
            d.text((4, r * cell[1] + 1), labels[r], font=font(12), fill=FG)
    caption(im, title, "demo model: runs on a CPU, no downloads")
    return im


def diagram(title: str, stages: list[str], needs: list[str]) -> Image.Image:
    """Stage boxes joined by arrows (two columns, top to bottom), then what to download."""
    im = Image.new("RGB", (SIZE, SIZE), (24, 36, 48))
    d = ImageDraw.Draw(im)
    f = font(13)
    per_col = -(-len(stages) // 2)
    bw, bh, x0, y0 = 140, 30, 12, 12
    gap = min(12, (SIZE - BAND - 84 - y0 - per_col * bh) // max(per_col - 1, 1))
    centres = []
    for i, name in enumerate(stages):
        col, row = divmod(i, per_col)
        x, y = x0 + col * (bw + 16), y0 + row * (bh + gap)
        d.rounded_rectangle([x, y, x + bw, y + bh], radius=6, fill=(63, 120, 158), outline=ACCENT)
        label = re.sub(r"^\d+\.\s*", "", name)
        while d.textlength(label, font=f) > bw - 10:
            label = label[:-2] + "…"
        d.text((x + 6, y + 8), label, font=f, fill=FG)
        centres.append((x + bw // 2, y + bh, y))
    for (ax, ab, _), (bx, _, bt) in zip(centres, centres[1:]):
        if bx == ax:
            d.line([ax, ab, bx, bt], fill=ACCENT, width=2)
    y = y0 + per_col * (bh + gap) + 2
    d.text((x0, y), "needs:", font=font(12), fill=ACCENT)
    y += 15
    for line in needs[:4]:
        d.text((x0, y), "- " + line, font=font(11), fill=FG)
        y += 14
    caption(im, title, "needs downloads (see the note)")
    return im


def save(im: Image.Image, path: Path) -> None:
    im.save(path, "JPEG", quality=82, optimize=True, progressive=True)


FILE_WIDGETS = {"CheckpointLoaderSimple": 0, "UNETLoader": 0, "CLIPLoader": 0, "VAELoader": 0,
                "ADE_AnimateDiffLoaderGen1": 0, "TFV_RewardModelLoader": 0}


def needs(wf: dict) -> list[str]:
    """What a workflow needs besides ComfyUI and this pack: model files and other node packs."""
    out = []
    for n in wf["nodes"]:
        i = FILE_WIDGETS.get(n["type"])
        if i is not None:
            value = n["widgets_values"][i]
            name = f"{value}/ (reward files)" if n["type"] == "TFV_RewardModelLoader" else value
            if "no weights" not in name and name not in out:
                out.append(name)
    if any(n["type"].startswith("ADE_") for n in wf["nodes"]):
        out.insert(0, "pack ComfyUI-AnimateDiff-Evolved")
    return out


def stages(wf: dict) -> list[str]:
    """Group titles in reading order (rows top to bottom, left to right)."""
    groups = sorted(wf.get("groups", []), key=lambda g: (round(g["bounding"][1] / 200), g["bounding"][0]))
    return [g["title"] for g in groups]
