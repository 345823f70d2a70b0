/* Koordinator scan page: reading labels with the camera of a phone or tablet.

   Reads Code 128, GS1-128, QR and Data Matrix from the camera, with the browser's own
   BarcodeDetector where it reads those formats, else zxing-wasm (vendor/zxing-wasm, its
   .wasm served by this server: nothing is fetched from elsewhere). Each decoded label is
   handed to the scan page as an event on the station's root element:

     root.dispatchEvent(new CustomEvent("kz:scan", {detail: {code: text, source: "camera"}}))

   and the scan page sends it as it sends a typed scan. GS1 symbols keep what a wedge
   scanner sends: the AIM symbology identifier (]C1 GS1-128, ]d2 GS1 Data Matrix, ]Q3 GS1 QR)
   and FNC1 as the group separator (ASCII 29) between fields.

   De-bounce: a label held in view is sent once, however long it stays there. The same text
   is sent again only after it has been out of view for GONE_MS and GONE_FRAMES decoded
   pictures (taken away, shown again).
   Not again after some seconds in view: a supplier's lot label at the receiving dock would
   then be received twice (each read of a lot label is a new receipt).
   No framework, no build step. */
(function () {
  "use strict";

  var FRAME_MS = 150; // between two decodes: about 6 a second
  var GONE_MS = 1500; // out of view this long and the label counts as taken away,
  var GONE_FRAMES = 3; // and missing from this many decoded pictures (a slow phone, a miss)
  var REPEAT_MS = 0; // held in view this long, sent again; 0: never (see above)
  var GS1_IDS = {code_128: "]C1", data_matrix: "]d2", qr_code: "]Q3"};
  var DETECTOR_FORMATS = ["code_128", "qr_code", "data_matrix"];
  var ZXING_FORMATS = ["Code128", "QRCode", "DataMatrix"];

  // --- the de-bounce (pure, so a person can read it) -------------------------------------

  function Debounce(goneMs, repeatMs, goneFrames) {
    this.goneMs = goneMs;
    this.repeatMs = repeatMs;
    this.goneFrames = goneFrames || GONE_FRAMES;
    this.seen = {}; // text -> {first: sent at, last: last seen, missed: pictures since}
  }
  // the texts of one frame, `now` in ms: returns the ones to send
  Debounce.prototype.frame = function (texts, now) {
    var out = [], seen = this.seen, self = this;
    // gone: missing for goneMs and from goneFrames pictures, so a decode that takes long
    // (a busy phone) or one picture the decoder missed does not count as taken away
    Object.keys(seen).forEach(function (t) {
      if (texts.indexOf(t) >= 0) return;
      var s = seen[t];
      s.missed += 1;
      if (s.missed >= self.goneFrames && now - s.last > self.goneMs) delete seen[t];
    });
    texts.forEach(function (t) {
      var s = seen[t];
      if (!s || (self.repeatMs > 0 && now - s.first >= self.repeatMs)) {
        seen[t] = {first: now, last: now, missed: 0};
        out.push(t);
      } else {
        s.last = now;
        s.missed = 0;
      }
    });
    return out;
  };

  // --- decoders: each gives detect(video) -> Promise of [text] ----------------------------

  // BarcodeDetector gives the text without a symbology identifier, FNC1 between fields as
  // GS (some platforms also the leading FNC1). A GS1 symbol is announced as a wedge scanner
  // announces it: by the GS it holds, or by starting with the SSCC or GTIN element (our
  // item codes start with K, command labels with CMD-).
  function gs1Text(format, text) {
    var id = GS1_IDS[format];
    if (!id || text.charAt(0) === "]") return text;
    if (text.charAt(0) === "\x1d") return id + text.slice(1);
    if (text.indexOf("\x1d") > 0 || /^(00\d{18}|0[12]\d{14})/.test(text)) return id + text;
    return text;
  }

  function fromDetector(codes) {
    var detector = new window.BarcodeDetector({formats: codes});
    return {
      name: "native",
      detect: function (video) {
        return detector.detect(video).then(function (found) {
          return found.map(function (b) { return gs1Text(b.format, b.rawValue || ""); })
            .filter(function (t) { return t; });
        });
      }
    };
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src;
      s.onload = resolve;
      s.onerror = function () { reject(new Error("cannot load " + src)); };
      document.head.appendChild(s);
    });
  }

  function fromZxing(box) {
    return loadScript(box.getAttribute("data-zxing-url")).then(function () {
      var Z = window.ZXingWASM, wasm = box.getAttribute("data-wasm-url");
      return Promise.resolve(Z.prepareZXingModule({
        overrides: {
          // our own copy, never the CDN the package would otherwise fetch from
          locateFile: function (path, prefix) { return /\.wasm$/.test(path) ? wasm : prefix + path; }
        },
        fireImmediately: true // load and compile now: a failure says so at the button
      })).then(function () { return Z; });
    }).then(function (Z) {
      var canvas = document.createElement("canvas");
      var g = canvas.getContext("2d", {willReadFrequently: true});
      var options = {formats: ZXING_FORMATS, textMode: "Plain", tryHarder: true, maxNumberOfSymbols: 4};
      return {
        name: "zxing",
        detect: function (video) {
          var w = video.videoWidth, h = video.videoHeight;
          if (!w || !h) return Promise.resolve([]);
          if (canvas.width !== w) canvas.width = w;
          if (canvas.height !== h) canvas.height = h;
          g.drawImage(video, 0, 0, w, h);
          return Z.readBarcodes(g.getImageData(0, 0, w, h), options).then(function (found) {
            return found.filter(function (r) { return r.isValid && r.text; }).map(function (r) {
              var id = r.symbologyIdentifier || "";
              // ]C1 / ]d2 / ]Q3: GS1 data, FNC1 as GS between fields (text mode Plain)
              return /^\](C1|d2|Q3)$/.test(id) ? id + r.text : r.text;
            });
          });
        }
      };
    });
  }

  function decoder(box) {
    if (box.getAttribute("data-decoder") !== "zxing" && window.BarcodeDetector &&
        window.BarcodeDetector.getSupportedFormats) {
      return window.BarcodeDetector.getSupportedFormats().then(function (have) {
        var all = DETECTOR_FORMATS.every(function (f) { return have.indexOf(f) >= 0; });
        return all ? fromDetector(DETECTOR_FORMATS) : fromZxing(box);
      }, function () { return fromZxing(box); });
    }
    return fromZxing(box);
  }

  // --- the camera view ---------------------------------------------------------------------

  function camera(root, box) {
    var button = box.querySelector(".camera-toggle");
    var view = box.querySelector(".camera-view");
    var video = box.querySelector("video");
    var note = box.querySelector(".camera-message");
    var stream = null, timer = null, running = false, seen = null;

    function say(key) {
      note.textContent = key ? box.getAttribute("data-text-" + key) : "";
      note.hidden = !key;
      box.setAttribute("data-state", key || (running ? "on" : "off"));
    }

    function stop() {
      running = false;
      clearTimeout(timer);
      if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
      stream = null;
      video.srcObject = null;
      view.hidden = true;
      button.textContent = box.getAttribute("data-text-start");
      button.setAttribute("aria-pressed", "false");
      box.setAttribute("data-state", "off");
    }

    function loop(dec) {
      if (!running) return;
      var started = Date.now();
      dec.detect(video).then(function (texts) {
        if (!running) return;
        seen.frame(texts, Date.now()).forEach(function (code) {
          box.setAttribute("data-last", code);
          root.dispatchEvent(new CustomEvent("kz:scan", {detail: {code: code, source: "camera"}}));
        });
      }, function () { /* a frame that cannot be read: the next one */ }).then(function () {
        if (running) timer = setTimeout(function () { loop(dec); }, Math.max(0, FRAME_MS - (Date.now() - started)));
      });
    }

    function start() {
      if (!window.isSecureContext) return say("insecure");
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return say("unavailable");
      running = true;
      seen = new Debounce(GONE_MS, REPEAT_MS);
      button.textContent = box.getAttribute("data-text-stop");
      button.setAttribute("aria-pressed", "true");
      say("starting");
      navigator.mediaDevices.getUserMedia({
        audio: false,
        video: {facingMode: {ideal: "environment"}, width: {ideal: 1280}, height: {ideal: 720}}
      }).then(function (s) {
        if (!running) { s.getTracks().forEach(function (t) { t.stop(); }); return null; }
        stream = s;
        video.srcObject = s;
        view.hidden = false;
        return Promise.all([video.play(), decoder(box)]);
      }).then(function (got) {
        if (!got || !running) return;
        box.setAttribute("data-decoder", got[1].name);
        say(null);
        loop(got[1]);
      }).catch(function (err) {
        var name = err && err.name;
        stop();
        say(name === "NotAllowedError" || name === "SecurityError" ? "denied"
            : name === "NotFoundError" || name === "OverconstrainedError" ? "unavailable"
            : "failed");
      });
    }

    button.addEventListener("click", function () { if (running) stop(); else start(); });
    // a hidden page gives the camera back (a phone's other apps, the battery)
    document.addEventListener("visibilitychange", function () { if (document.hidden && running) stop(); });
    stop();
    if (!window.isSecureContext) say("insecure");
    else if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) say("unavailable");
  }

  window.KoordinatorCamera = {Debounce: Debounce, gs1Text: gs1Text};

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.querySelector(".scan[data-scanner]");
    var box = document.getElementById("camera");
    if (root && box) camera(root, box);
  });
})();
