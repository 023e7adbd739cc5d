// vadlib report: filter the rows of every data table by the text typed in the search box.
(function () {
  "use strict";
  var input = document.getElementById("search");
  if (!input) { return; }
  var count = document.getElementById("search-count");
  var rows = Array.prototype.slice.call(document.querySelectorAll("table.data tbody tr"));
  var texts = rows.map(function (row) { return row.textContent.toLowerCase(); });

  function apply() {
    var query = input.value.trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (row, i) {
      var match = !query || texts[i].indexOf(query) !== -1;
      row.classList.toggle("hidden", !match);
      if (match) { shown += 1; }
    });
    count.textContent = query ? shown + " of " + rows.length + " rows match" : "";
  }

  input.addEventListener("input", apply);
  apply();
}());
