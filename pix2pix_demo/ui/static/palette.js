// Shared by the drawing pad and the hint canvas (prepended to their js_on_load): the colour palette, colour helpers
// and the points a colour stroke becomes. A hint is a point {x, y, color}; a stroke becomes one point every few
// model pixels along its path (pix2pix_demo.hints.PATCH), and a value never carries more than props.max_hints.
const P2P_PALETTE = [
  ["#e53935", "red"], ["#fb8c00", "orange"], ["#fdd835", "yellow"], ["#8bc34a", "light green"],
  ["#2e7d32", "dark green"], ["#4fc3f7", "sky blue"], ["#1e4fd8", "blue"], ["#8e24aa", "purple"],
  ["#f48fb1", "pink"], ["#f1c27d", "skin"], ["#795548", "brown"], ["#ffffff", "white"], ["#3a3a3a", "dark gray"],
];

function p2pHex(r, g, b) {
  return "#" + [r, g, b].map((v) => Math.max(0, Math.min(255, Math.round(v))).toString(16).padStart(2, "0")).join("");
}

function p2pRgb(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

// Fill `box` with one button per [hex, name]; a click calls onPick(hex).
function p2pSwatches(box, colours, onPick) {
  box.replaceChildren();
  for (const [hex, name] of colours) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "p2p-swatch";
    b.style.background = hex;
    b.title = `${name} (${hex})`;
    b.dataset.color = hex;
    b.setAttribute("aria-label", name);
    b.addEventListener("click", () => onPick(hex));
    box.appendChild(b);
  }
}

// Points every `step` pixels along a polyline [[x, y], …]: its first point always, so a click is one point.
function p2pResample(pts, step) {
  const out = [pts[0]];
  let since = 0;             // distance along the path since the last point taken
  for (let i = 1; i < pts.length; i++) {
    const [x0, y0] = pts[i - 1];
    const [x1, y1] = pts[i];
    const len = Math.hypot(x1 - x0, y1 - y0);
    let t = step - since;
    while (t <= len) {
      out.push([x0 + (x1 - x0) * t / len, y0 + (y1 - y0) * t / len]);
      t += step;
    }
    since = len - (t - step);
  }
  return out;
}

// At most `max` of `items`, spread evenly over them.
function p2pThin(items, max) {
  if (items.length <= max) return items;
  const out = [];
  for (let i = 0; i < max; i++) out.push(items[Math.floor(i * items.length / max)]);
  return out;
}

// Distance from point p to the polyline pts.
function p2pDistance(p, pts) {
  let best = Infinity;
  for (let i = 0; i < pts.length; i++) {
    const a = pts[i];
    const b = pts[Math.min(i + 1, pts.length - 1)];
    const dx = b[0] - a[0];
    const dy = b[1] - a[1];
    const len2 = dx * dx + dy * dy;
    const t = len2 ? Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2)) : 0;
    best = Math.min(best, Math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy));
  }
  return best;
}
