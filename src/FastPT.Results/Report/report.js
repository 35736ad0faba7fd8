// FastPT performance report: filter operations by name; click a point for its details.
(function () {
  "use strict";
  var filter = document.getElementById("filter");
  var ops = Array.prototype.slice.call(document.querySelectorAll("section.op"));
  var count = document.getElementById("shown");
  function applyFilter() {
    var words = filter.value.toLowerCase().split(/\s+/).filter(function (w) { return w.length > 0; });
    var shown = 0;
    ops.forEach(function (s) {
      var name = s.getAttribute("data-op").toLowerCase();
      var hit = words.length === 0 || words.some(function (w) { return name.indexOf(w) >= 0; });
      s.classList.toggle("hidden", !hit);
      if (hit) shown++;
    });
    count.textContent = shown + " of " + ops.length + " operations";
  }
  filter.addEventListener("input", applyFilter);
  applyFilter();

  var detail = document.getElementById("detail");
  var selected = null;
  document.addEventListener("click", function (e) {
    var t = e.target;
    if (t && t.classList && t.classList.contains("pt")) {
      if (selected) selected.classList.remove("selected");
      selected = t;
      t.classList.add("selected");
      detail.textContent = t.getAttribute("data-detail");
      detail.classList.add("shown");
    } else if (!detail.contains(t)) {
      if (selected) selected.classList.remove("selected");
      selected = null;
      detail.classList.remove("shown");
    }
  });
  document.body.setAttribute("data-ready", "1");
})();
