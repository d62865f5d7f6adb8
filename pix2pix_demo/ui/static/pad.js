// The live drawing pad (gr.HTML js_on_load, after palette.js): `element`, `props`, `watch` come from Gradio.
//
// The drawing lives here, in JavaScript: a history of strokes (plus "image" entries for drawings loaded from
// Python and "clear" entries), so undo is exact and the canvas can always be redrawn. The template is static, so
// setting props.value never changes the DOM; the canvas keeps its pixels.
//
// Two layers, both off screen: the ink (white paper, black lines) and the colour strokes of the colour brush
// (offered when props.colour is true: a hint-aware model). The canvas on screen shows colour × ink; only the ink
// is the drawing, so colour never becomes lines for the model.
//
// When a stroke ends the pad sends its value through props.value, and Gradio fires the component's `change` event
// for every new value: the ink as a PNG data URL ("" for an empty pad), or, when there are colour strokes, a JSON
// string {"drawing": the PNG data URL, "hints": [{x, y, color}, …]} in the drawing's pixels.
(() => {
  const SIZE = 512;          // canvas pixels (the drawing sent is SIZE x SIZE)
  const PEN = 7;             // 3.5 px at 256 px: the canonical stroke the sketch model was trained on
  const ERASER = 28;
  const BRUSH = 14;          // the colour brush
  const WHITE = "#ffffff";
  const PATCH = props.patch || 5;           // a hint's square, in model pixels
  const MODEL = props.model_size || 256;     // the model's input side
  const MAX_HINTS = props.max_hints || 200;
  const canvas = element.querySelector("canvas.p2p-canvas");
  const ctx = canvas.getContext("2d");
  const layer = () => { const c = document.createElement("canvas"); c.width = SIZE; c.height = SIZE; return c; };
  const ink = layer();
  const colour = layer();
  const inkCtx = ink.getContext("2d");
  const colCtx = colour.getContext("2d");
  let tool = "pen";
  let brush = P2P_PALETTE[0][0];
  let history = [];          // {kind: "stroke", tool, w, color, pts} | {kind: "image", img} | {kind: "clear"}
  let current = null;
  let lastSent = props.value || "";

  function reset() {
    inkCtx.fillStyle = WHITE;
    inkCtx.fillRect(0, 0, SIZE, SIZE);
    colCtx.clearRect(0, 0, SIZE, SIZE);
  }

  function line(c, s, from, colourStyle, width) {
    const p = s.pts;
    c.strokeStyle = colourStyle;
    c.fillStyle = colourStyle;
    c.lineWidth = width;
    c.lineCap = "round";
    c.lineJoin = "round";
    c.beginPath();
    if (p.length === 1) {
      c.arc(p[0][0], p[0][1], width / 2, 0, 2 * Math.PI);
      c.fill();
      return;
    }
    c.moveTo(p[from][0], p[from][1]);
    for (let i = from + 1; i < p.length; i++) c.lineTo(p[i][0], p[i][1]);
    c.stroke();
  }

  // Draw stroke s (from point `from` on) into the layers it touches.
  function drawStroke(s, from) {
    if (s.tool === "pen") line(inkCtx, s, from, "#000000", s.w);
    else if (s.tool === "colour") line(colCtx, s, from, s.color, s.w);
    else {
      line(inkCtx, s, from, WHITE, s.w);
      colCtx.globalCompositeOperation = "destination-out";
      line(colCtx, s, from, "#000000", s.w);
      colCtx.globalCompositeOperation = "source-over";
    }
  }

  function show() {
    ctx.globalCompositeOperation = "source-over";
    ctx.fillStyle = WHITE;
    ctx.fillRect(0, 0, SIZE, SIZE);
    ctx.drawImage(colour, 0, 0);
    ctx.globalCompositeOperation = "multiply";   // black lines stay black, white paper lets the colour through
    ctx.drawImage(ink, 0, 0);
    ctx.globalCompositeOperation = "source-over";
  }

  function redraw() {
    reset();
    for (const h of history) {
      if (h.kind === "clear") reset();
      else if (h.kind === "image") { reset(); inkCtx.drawImage(h.img, 0, 0, SIZE, SIZE); }
      else drawStroke(h, 0);
    }
    show();
  }

  function hasInk() {
    let any = false;
    for (const h of history) {
      if (h.kind === "clear") any = false;
      else if (h.kind === "image" || h.tool === "pen") any = true;
    }
    return any;
  }

  // Pad pixels between two hints along a colour stroke: PATCH model pixels. The model sees the drawing fitted to
  // its content (with a 6 % margin), so this follows the extent of the pen's ink (a loaded drawing: the whole pad).
  function step() {
    let box = null;
    const grow = (x, y) => {
      box = box ? [Math.min(box[0], x), Math.min(box[1], y), Math.max(box[2], x), Math.max(box[3], y)] : [x, y, x, y];
    };
    for (const h of history) {
      if (h.kind === "clear") box = null;
      else if (h.kind === "image") { box = null; grow(0, 0); grow(SIZE, SIZE); }
      else if (h.tool === "pen") for (const [x, y] of h.pts) grow(x, y);
    }
    const side = box ? Math.max(box[2] - box[0], box[3] - box[1], 32) * 1.12 : SIZE;
    return PATCH * Math.min(side, SIZE) / MODEL;
  }

  // The colour strokes as points {x, y, color} in the drawing's pixels (pixel centres at integers); the eraser
  // removes the points it covers.
  function hints() {
    const every = step();
    let pts = [];
    for (const h of history) {
      if (h.kind !== "stroke") pts = [];
      else if (h.tool === "colour") {
        for (const [x, y] of p2pResample(h.pts, every)) {
          pts.push({ x: Math.round((x - 0.5) * 10) / 10, y: Math.round((y - 0.5) * 10) / 10, color: h.color });
        }
      } else if (h.tool === "eraser") {
        pts = pts.filter((p) => p2pDistance([p.x + 0.5, p.y + 0.5], h.pts) > (h.w + BRUSH) / 2);
      }
    }
    return p2pThin(pts.filter((p) => p.x >= -0.5 && p.y >= -0.5 && p.x < SIZE && p.y < SIZE), MAX_HINTS);
  }

  function send() {
    const drawing = hasInk() ? ink.toDataURL("image/png") : "";
    const points = props.colour ? hints() : [];
    const v = points.length ? JSON.stringify({ drawing, hints: points }) : drawing;
    if (v === lastSent) return;
    lastSent = v;
    props.value = v;         // Gradio dispatches `change` with the new value
  }

  function pos(e) {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * SIZE / r.width, (e.clientY - r.top) * SIZE / r.height];
  }

  canvas.addEventListener("pointerdown", (e) => {
    if (e.pointerType === "mouse" && e.button !== 0) return;
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    canvas.focus({ preventScroll: true });
    const w = tool === "pen" ? PEN : tool === "colour" ? BRUSH : ERASER;
    current = { kind: "stroke", tool, w, color: brush, pts: [pos(e)] };
    history.push(current);
    drawStroke(current, 0);
    show();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!current) return;
    const from = current.pts.length - 1;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    for (const ev of events.length ? events : [e]) current.pts.push(pos(ev));
    drawStroke(current, from);
    show();
  });
  const end = () => {
    if (!current) return;
    current = null;
    send();
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.addEventListener("lostpointercapture", end);

  function setTool(name) {
    if (name === "colour" && !props.colour) return;
    tool = name;
    element.querySelectorAll("[data-tool]").forEach((b) => {
      const on = b.dataset.tool === name;
      b.classList.toggle("p2p-active", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
    canvas.classList.toggle("p2p-erasing", name === "eraser");
    canvas.classList.toggle("p2p-painting", name === "colour");
  }
  function setBrush(hex) {
    brush = hex;
    element.querySelector(".p2p-current").style.background = hex;
    element.querySelector(".p2p-picker").value = hex;
    element.querySelectorAll(".p2p-swatch").forEach((b) => b.classList.toggle("p2p-chosen", b.dataset.color === hex));
    setTool("colour");
  }
  function undo() {
    if (!history.length) return;
    history.pop();
    redraw();
    send();
  }
  function clear() {
    if (history.length && history[history.length - 1].kind !== "clear") history.push({ kind: "clear" });
    redraw();
    send();
  }
  element.querySelectorAll("[data-tool]").forEach((b) => b.addEventListener("click", () => setTool(b.dataset.tool)));
  element.querySelector('[data-act="undo"]').addEventListener("click", undo);
  element.querySelector('[data-act="clear"]').addEventListener("click", clear);
  canvas.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") { e.preventDefault(); undo(); }
    else if (e.key === "e" || e.key === "E") setTool("eraser");
    else if (e.key === "p" || e.key === "P") setTool("pen");
    else if (e.key === "c" || e.key === "C") setTool("colour");
  });
  if (props.colour) {        // a hint-aware model: show the colour brush and its palette
    element.querySelector('[data-tool="colour"]').hidden = false;
    element.querySelector(".p2p-colours").hidden = false;
    p2pSwatches(element.querySelector(".p2p-palette"), P2P_PALETTE, setBrush);
    element.querySelector(".p2p-picker").addEventListener("input", (e) => setBrush(e.target.value));
    setBrush(brush);
    setTool("pen");
  }

  // A value set by Python (an example or an uploaded drawing, a PNG data URL; or the JSON form): draw it as a new
  // drawing, undoable. Its hints, if any, become colour dots.
  function load(v) {
    let drawing = v;
    let points = [];
    if (v.startsWith("{")) {
      try { ({ drawing = "", hints: points = [] } = JSON.parse(v)); } catch (err) { return; }
    }
    const dots = () => {
      for (const p of Array.isArray(points) ? points : []) {
        history.push({ kind: "stroke", tool: "colour", w: BRUSH, color: p.color, pts: [[p.x, p.y]] });
      }
      redraw();
    };
    if (!drawing) { if (hasInk()) history.push({ kind: "clear" }); dots(); return; }
    const img = new Image();
    img.onload = () => { history.push({ kind: "image", img }); dots(); };
    img.src = drawing;
  }
  watch("value", () => {
    const v = props.value || "";
    if (v === lastSent) return;
    lastSent = v;
    if (!v) { if (history.length) history.push({ kind: "clear" }); redraw(); return; }
    load(v);
  });

  redraw();
  if (lastSent) load(lastSent);   // a value given at start-up
})();
