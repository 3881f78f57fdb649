// sfv report: a small WebGL viewer of reconstructions beside their true faces.
// Data: <script type="application/json" id="sfv-viewer-data"> with base64 arrays (see viewer.py).
// Drag to rotate (both faces together), wheel to zoom, pick a speaker from the list.
(function () {
  "use strict";
  const source = document.getElementById("sfv-viewer-data");
  if (!source) return;
  const data = JSON.parse(source.textContent);

  function decode(text, Type) {
    const bin = atob(text);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Type(bytes.buffer);
  }

  // 16-bit indices where the mesh allows (WebGL 1's baseline), else the 32-bit extension.
  const wide = data.index_bytes === 4;
  const triangles = decode(data.triangles, wide ? Uint32Array : Uint16Array);

  function normals(positions) {
    const out = new Float32Array(positions.length);
    for (let t = 0; t < triangles.length; t += 3) {
      const a = 3 * triangles[t], b = 3 * triangles[t + 1], c = 3 * triangles[t + 2];
      const ux = positions[b] - positions[a], uy = positions[b + 1] - positions[a + 1], uz = positions[b + 2] - positions[a + 2];
      const vx = positions[c] - positions[a], vy = positions[c + 1] - positions[a + 1], vz = positions[c + 2] - positions[a + 2];
      const nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;
      for (const i of [a, b, c]) { out[i] += nx; out[i + 1] += ny; out[i + 2] += nz; }
    }
    for (let i = 0; i < out.length; i += 3) {
      const n = Math.hypot(out[i], out[i + 1], out[i + 2]) || 1;
      out[i] /= n; out[i + 1] /= n; out[i + 2] /= n;
    }
    return out;
  }

  const VERTEX = `
    attribute vec3 position; attribute vec3 normal; attribute vec3 colour;
    uniform mat3 rotation; uniform float scale; uniform float zoom; uniform float aspect;
    varying vec3 vColour; varying vec3 vNormal;
    void main() {
      vec3 p = rotation * position * scale;  // within the unit sphere
      gl_Position = vec4(p.x * zoom / aspect, p.y * zoom, -p.z * 0.5, 1.0);
      vNormal = rotation * normal; vColour = colour;
    }`;
  const FRAGMENT = `
    precision mediump float;
    varying vec3 vColour; varying vec3 vNormal;
    void main() {
      vec3 light = normalize(vec3(0.35, 0.45, 1.0));
      float diffuse = max(dot(normalize(vNormal), light), 0.0);
      gl_FragColor = vec4(vColour * (0.35 + 0.65 * diffuse), 1.0);
    }`;

  function program(gl) {
    const shader = (type, text) => {
      const s = gl.createShader(type);
      gl.shaderSource(s, text);
      gl.compileShader(s);
      if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s));
      return s;
    };
    const p = gl.createProgram();
    gl.attachShader(p, shader(gl.VERTEX_SHADER, VERTEX));
    gl.attachShader(p, shader(gl.FRAGMENT_SHADER, FRAGMENT));
    gl.linkProgram(p);
    if (!gl.getProgramParameter(p, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(p));
    return p;
  }

  class Panel {
    constructor(canvas) {
      this.canvas = canvas;
      const gl = canvas.getContext("webgl", { preserveDrawingBuffer: true, antialias: true });
      if (!gl) throw new Error("WebGL is not available in this browser");
      if (wide && !gl.getExtension("OES_element_index_uint")) throw new Error("this mesh needs 32-bit indices");
      this.gl = gl;
      this.program = program(gl);
      this.buffers = { position: gl.createBuffer(), normal: gl.createBuffer(), colour: gl.createBuffer(),
                       index: gl.createBuffer() };
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.buffers.index);
      gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, triangles, gl.STATIC_DRAW);
      gl.enable(gl.DEPTH_TEST);
    }
    load(positions, colours) {
      const gl = this.gl;
      gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.position);
      gl.bufferData(gl.ARRAY_BUFFER, positions, gl.STATIC_DRAW);
      gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.normal);
      gl.bufferData(gl.ARRAY_BUFFER, normals(positions), gl.STATIC_DRAW);
      gl.bindBuffer(gl.ARRAY_BUFFER, this.buffers.colour);
      gl.bufferData(gl.ARRAY_BUFFER, colours, gl.STATIC_DRAW);
    }
    draw(rotation, zoom) {
      const gl = this.gl, p = this.program;
      gl.viewport(0, 0, this.canvas.width, this.canvas.height);
      gl.clearColor(1, 1, 1, 1);
      gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
      gl.useProgram(p);
      const attribute = (name, buffer, size, type, normalised) => {
        const at = gl.getAttribLocation(p, name);
        gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
        gl.enableVertexAttribArray(at);
        gl.vertexAttribPointer(at, size, type, normalised, 0, 0);
      };
      attribute("position", this.buffers.position, 3, gl.FLOAT, false);
      attribute("normal", this.buffers.normal, 3, gl.FLOAT, false);
      attribute("colour", this.buffers.colour, 3, gl.UNSIGNED_BYTE, true);
      gl.uniformMatrix3fv(gl.getUniformLocation(p, "rotation"), false, rotation);
      gl.uniform1f(gl.getUniformLocation(p, "scale"), data.scale);
      gl.uniform1f(gl.getUniformLocation(p, "zoom"), zoom);
      gl.uniform1f(gl.getUniformLocation(p, "aspect"), this.canvas.width / this.canvas.height);
      gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, this.buffers.index);
      gl.drawElements(gl.TRIANGLES, triangles.length, wide ? gl.UNSIGNED_INT : gl.UNSIGNED_SHORT, 0);
    }
  }

  // Column-major rotation: yaw about the vertical axis, then pitch about the horizontal one.
  function rotation(yaw, pitch) {
    const cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
    return new Float32Array([cy, sp * sy, -cp * sy, 0, cp, sp, sy, -sp * cy, cp * cy]);
  }

  const root = document.getElementById("sfv-viewer");
  const panels = Array.from(root.querySelectorAll("canvas")).map((c) => new Panel(c));
  const select = root.querySelector("select");
  const caption = root.querySelector(".viewer-caption");
  const view = { yaw: 0.5, pitch: 0.1, zoom: 1.0 };

  function draw() {
    const r = rotation(view.yaw, view.pitch);
    for (const panel of panels) panel.draw(r, view.zoom);
  }

  function show(index) {
    const face = data.faces[index];
    panels[0].load(decode(face.reconstruction, Float32Array), decode(face.error_colours, Uint8Array));
    panels[1].load(decode(face.truth, Float32Array), decode(face.truth_colours, Uint8Array));
    caption.textContent = face.caption;
    draw();
  }

  data.faces.forEach((face, i) => {
    const option = document.createElement("option");
    option.value = String(i);
    option.textContent = face.label;
    select.appendChild(option);
  });
  select.addEventListener("change", () => show(Number(select.value)));

  let drag = null;
  for (const panel of panels) {
    panel.canvas.addEventListener("pointerdown", (e) => { drag = { x: e.clientX, y: e.clientY }; });
    panel.canvas.addEventListener("wheel", (e) => {
      e.preventDefault();
      view.zoom = Math.min(4, Math.max(0.4, view.zoom * Math.exp(-e.deltaY * 0.001)));
      draw();
    }, { passive: false });
  }
  window.addEventListener("pointerup", () => { drag = null; });
  window.addEventListener("pointermove", (e) => {
    if (!drag) return;
    view.yaw += (e.clientX - drag.x) * 0.01;
    view.pitch = Math.min(1.4, Math.max(-1.4, view.pitch + (e.clientY - drag.y) * 0.01));
    drag = { x: e.clientX, y: e.clientY };
    draw();
  });

  show(0);
  root.dataset.ready = "true";
})();
