// The live drawing pad (gr.HTML js_on_load): `element`, `props`, `trigger`, `watch` come from Gradio.
//
// The drawing lives here, in JavaScript: a history of strokes (plus "image" entries for drawings loaded from
// Python and "clear" entries), so undo is exact and the canvas can always be redrawn. The template is static, so
// setting props.value never changes the DOM; the canvas keeps its pixels.
//
// When a stroke ends, the canvas is sent as a PNG data URL through props.value. Gradio fires the component's
// `change` event for every new value, and the app's Python listener turns the drawing into a picture. An empty
// pad sends "" (the app answers with a hint).
(() => {
  const SIZE = 512;          // canvas pixels (the value sent is SIZE x SIZE)
  const PEN = 7;             // 3.5 px at 256 px: the canonical stroke the sketch model was trained on
  const ERASER = 28;
  const WHITE = "#ffffff";
  const canvas = element.querySelector("canvas.p2p-canvas");
  const ctx = canvas.getContext("2d");
  let tool = "pen";
  let history = [];          // {kind: "stroke", w, color, pts} | {kind: "image", img} | {kind: "clear"}
  let current = null;
  let lastSent = props.value || "";

  function paper() {
    ctx.fillStyle = WHITE;
    ctx.fillRect(0, 0, SIZE, SIZE);
  }

  function drawStroke(s, from) {
    const p = s.pts;
    ctx.strokeStyle = s.color;
    ctx.fillStyle = s.color;
    ctx.lineWidth = s.w;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    if (p.length === 1) {
      ctx.beginPath();
      ctx.arc(p[0][0], p[0][1], s.w / 2, 0, 2 * Math.PI);
      ctx.fill();
      return;
    }
    ctx.beginPath();
    ctx.moveTo(p[from][0], p[from][1]);
    for (let i = from + 1; i < p.length; i++) ctx.lineTo(p[i][0], p[i][1]);
    ctx.stroke();
  }

  function redraw() {
    paper();
    for (const h of history) {
      if (h.kind === "clear") paper();
      else if (h.kind === "image") { paper(); ctx.drawImage(h.img, 0, 0, SIZE, SIZE); }
      else drawStroke(h, 0);
    }
  }

  function hasInk() {
    let ink = false;
    for (const h of history) {
      if (h.kind === "clear") ink = false;
      else if (h.kind === "image" || h.color !== WHITE) ink = true;
    }
    return ink;
  }

  function send() {
    const v = hasInk() ? canvas.toDataURL("image/png") : "";
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
    current = { kind: "stroke", w: tool === "pen" ? PEN : ERASER, color: tool === "pen" ? "#000000" : WHITE,
                pts: [pos(e)] };
    history.push(current);
    drawStroke(current, 0);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!current) return;
    const from = current.pts.length - 1;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
    for (const ev of events.length ? events : [e]) current.pts.push(pos(ev));
    drawStroke(current, from);
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
    tool = name;
    element.querySelectorAll("[data-tool]").forEach((b) => {
      const on = b.dataset.tool === name;
      b.classList.toggle("p2p-active", on);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
    canvas.classList.toggle("p2p-erasing", name === "eraser");
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
  });

  // A drawing loaded by Python (an example or an uploaded file) arrives as a new value: draw it, keep it undoable.
  watch("value", () => {
    const v = props.value || "";
    if (v === lastSent) return;
    lastSent = v;
    if (!v) { if (hasInk()) history.push({ kind: "clear" }); redraw(); return; }
    const img = new Image();
    img.onload = () => { history.push({ kind: "image", img }); redraw(); };
    img.src = v;
  });

  paper();
  if (lastSent) {            // a value given at start-up
    const img = new Image();
    img.onload = () => { history.push({ kind: "image", img }); redraw(); };
    img.src = lastSent;
  }
})();
