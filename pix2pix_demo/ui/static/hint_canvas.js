// The colour-hint canvas (gr.HTML js_on_load, after palette.js): `element`, `props`, `watch` come from Gradio.
//
// Python sets the value {src, width, height} when a photo arrives: a small gray JPEG to show, and the photo's own
// size. The canvas then forgets its hints. The user clicks points or paints short scribbles; after every change
// (stroke, colour, undo, clear) the canvas sends {hints: [{x, y, color}, …]} in the photo's own pixels, and the
// tab's `change` listener re-colorizes. A scribble is one point every PATCH model pixels along its path, drawn as
// wide as the square the model sees. The colours suggested at a clicked spot are read from the picture the model
// made last (the element props.preview); picking one recolours the hint at that spot. A colour from the palette or
// the picker is the colour of the next hints, and recolours a hint only when the user selected it by clicking it.
(() => {
  const MAX_HINTS = props.max_hints || 200;
  const canvas = element.querySelector("canvas.p2p-hc-canvas");
  const ctx = canvas.getContext("2d");
  const empty = element.querySelector(".p2p-hc-empty");
  const suggested = element.querySelector(".p2p-suggested");
  const suggestLabel = element.querySelector(".p2p-suggest-label");
  let photo = null;          // {img, width, height}: the gray picture shown and the photo's own size
  let history = [];          // {kind: "stroke", color, pts} | {kind: "recolour", stroke, from, to} | {kind: "clear"}
  let spot = null;           // the hint at the spot clicked last: a suggested colour recolours it
  let selected = null;       // a hint the user clicked on: any colour picked recolours it
  let current = null;
  let moved = 0;
  let brush = P2P_PALETTE[0][0];
  let lastSent = JSON.stringify(props.value ?? "");

  // Photo pixels per canvas pixel; the side of a hint's square (PATCH model pixels) in canvas pixels.
  const perPixel = () => photo.width / canvas.width;
  const patch = () => Math.max(6, (props.patch || 5) * Math.max(photo.width, photo.height) /
                                  (props.model_size || 128) / perPixel());

  function strokes() {       // the strokes since the last clear
    let out = [];
    for (const h of history) {
      if (h.kind === "clear") out = [];
      else if (h.kind === "stroke") out.push(h);
    }
    return out;
  }

  function drawStroke(s) {
    const w = patch();
    const p = s.pts;
    const ring = s === selected ? "#000000" : "#ffffff";
    if (p.length === 1) {
      ctx.fillStyle = ring;
      ctx.fillRect(p[0][0] - w / 2 - 2, p[0][1] - w / 2 - 2, w + 4, w + 4);
      ctx.fillStyle = s.color;
      ctx.fillRect(p[0][0] - w / 2, p[0][1] - w / 2, w, w);
      return;
    }
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const [style, width] of [[ring, w + 4], [s.color, w]]) {
      ctx.strokeStyle = style;
      ctx.lineWidth = width;
      ctx.beginPath();
      ctx.moveTo(p[0][0], p[0][1]);
      for (let i = 1; i < p.length; i++) ctx.lineTo(p[i][0], p[i][1]);
      ctx.stroke();
    }
  }

  function redraw() {
    if (!photo) return;
    ctx.drawImage(photo.img, 0, 0, canvas.width, canvas.height);
    for (const s of strokes()) drawStroke(s);
  }

  // The hints in the photo's pixels (pixel centres at integers).
  function hints() {
    const k = perPixel();
    const out = [];
    for (const s of strokes()) {
      for (const [x, y] of p2pResample(s.pts, patch())) {
        out.push({ x: Math.round((x * k - 0.5) * 10) / 10, y: Math.round((y * k - 0.5) * 10) / 10, color: s.color });
      }
    }
    return p2pThin(out, MAX_HINTS);
  }

  function send() {
    if (!photo) return;
    const v = { hints: hints() };
    const s = JSON.stringify(v);
    if (s === lastSent) return;
    lastSent = s;
    props.value = v;         // Gradio dispatches `change` with the new value
  }

  // ----------------------------------------------------------------------------- colours suggested by the model
  const sampler = document.createElement("canvas");
  let sampledSrc = null;
  let sampled = null;

  function modelPixels() {   // the last picture of the model, at most 256 px, as ImageData
    const img = document.querySelector(`#${props.preview} img`);
    if (!img || !img.complete || !img.naturalWidth) return null;
    if (img.src !== sampledSrc) {
      const s = Math.min(1, 256 / Math.max(img.naturalWidth, img.naturalHeight));
      sampler.width = Math.max(1, Math.round(img.naturalWidth * s));
      sampler.height = Math.max(1, Math.round(img.naturalHeight * s));
      const c = sampler.getContext("2d", { willReadFrequently: true });
      c.drawImage(img, 0, 0, sampler.width, sampler.height);
      try { sampled = c.getImageData(0, 0, sampler.width, sampler.height); } catch (err) { return null; }
      sampledSrc = img.src;
    }
    return sampled;
  }

  function mean(d, cx, cy, r) {
    const acc = [0, 0, 0];
    let n = 0;
    for (let y = Math.max(0, cy - r); y <= Math.min(d.height - 1, cy + r); y++) {
      for (let x = Math.max(0, cx - r); x <= Math.min(d.width - 1, cx + r); x++) {
        const i = 4 * (y * d.width + x);
        acc[0] += d.data[i]; acc[1] += d.data[i + 1]; acc[2] += d.data[i + 2];
        n++;
      }
    }
    return acc.map((v) => v / Math.max(n, 1));
  }

  function suggest(p) {
    const d = modelPixels();
    if (!d) {
      suggestLabel.textContent = "The model's colours appear here once its picture is shown.";
      suggested.replaceChildren();
      return;
    }
    const cx = Math.min(d.width - 1, Math.floor(p[0] / canvas.width * d.width));
    const cy = Math.min(d.height - 1, Math.floor(p[1] / canvas.height * d.height));
    const here = mean(d, cx, cy, 1);
    const around = mean(d, cx, cy, Math.max(2, Math.round(0.06 * Math.max(d.width, d.height))));
    const g = (here[0] + here[1] + here[2]) / 3;
    const vivid = here.map((v) => g + (v - g) * 1.8);
    suggestLabel.textContent = "The model's colours here:";
    p2pSwatches(suggested, [[p2pHex(...here), "the model's colour here"],
                            [p2pHex(...vivid), "the model's colour here, more saturated"],
                            [p2pHex(...around), "the model's colour around here"]], (hex) => pick(hex, true));
  }

  // ------------------------------------------------------------------------------------------------ editing
  // A colour picked: the colour of the next hints; it recolours the selected hint, or for a suggested colour the
  // hint at the spot the suggestions are for.
  function pick(hex, suggestion = false) {
    brush = hex;
    element.querySelector(".p2p-current").style.background = hex;
    element.querySelector(".p2p-picker").value = hex;
    element.querySelectorAll(".p2p-palette .p2p-swatch")
      .forEach((b) => b.classList.toggle("p2p-chosen", b.dataset.color === hex));
    const target = suggestion ? spot : selected;
    if (target && target.color !== hex && strokes().includes(target)) {
      history.push({ kind: "recolour", stroke: target, from: target.color, to: hex });
      target.color = hex;
      redraw();
      send();
    }
  }

  function undo() {
    const h = history.pop();
    if (!h) return;
    if (h.kind === "recolour") h.stroke.color = h.from;
    if (h === selected) selected = null;
    if (h === spot) spot = null;
    redraw();
    send();
  }

  function clear() {
    if (strokes().length) history.push({ kind: "clear" });
    selected = spot = null;
    redraw();
    send();
  }

  function pos(e) {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
  }

  canvas.addEventListener("pointerdown", (e) => {
    if (!photo || (e.pointerType === "mouse" && e.button !== 0)) return;
    e.preventDefault();
    canvas.focus({ preventScroll: true });
    const p = pos(e);
    suggest(p);
    const hit = strokes().reverse().find((s) => p2pDistance(p, s.pts) <= patch() / 2 + 2);
    if (hit) {               // a click on a hint selects it, for the next colour picked
      selected = spot = hit;
      redraw();
      return;
    }
    canvas.setPointerCapture(e.pointerId);
    current = { kind: "stroke", color: brush, pts: [p] };
    moved = 0;
    selected = null;
    spot = current;
    history.push(current);
    redraw();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!current) return;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    for (const ev of events.length ? events : [e]) {
      const p = pos(ev);
      const last = current.pts[current.pts.length - 1];
      moved += Math.hypot(p[0] - last[0], p[1] - last[1]);
      current.pts.push(p);
    }
    redraw();
  });
  const end = () => {
    if (!current) return;
    const s = current;
    current = null;
    if (moved < 4) s.pts = [s.pts[0]];   // a click: one point
    redraw();
    send();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.addEventListener("lostpointercapture", end);
  canvas.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") { e.preventDefault(); undo(); }
  });
  element.querySelector('[data-act="undo"]').addEventListener("click", undo);
  element.querySelector('[data-act="clear"]').addEventListener("click", clear);
  p2pSwatches(element.querySelector(".p2p-palette"), P2P_PALETTE, pick);
  element.querySelector(".p2p-picker").addEventListener("change", (e) => pick(e.target.value));
  pick(brush);

  // ------------------------------------------------------------------------------------- photos from Python
  function load(v) {
    if (v && typeof v === "object" && !v.src) return;   // our own value coming back
    history = [];
    selected = spot = null;
    if (!v || typeof v !== "object") {
      photo = null;
      canvas.hidden = true;
      empty.hidden = false;
      return;
    }
    const img = new Image();
    img.onload = () => {
      photo = { img, width: v.width, height: v.height };
      canvas.width = img.naturalWidth;
      canvas.height = img.naturalHeight;
      history = [];
      canvas.hidden = false;
      empty.hidden = true;
      redraw();
    };
    img.src = v.src;
  }
  watch("value", () => {
    const s = JSON.stringify(props.value ?? "");
    if (s === lastSent) return;
    lastSent = s;
    load(props.value);
  });
  load(props.value);
})();
