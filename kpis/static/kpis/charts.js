/* Draws every chart of kpis.charts on the page: a [data-chart] element holds the chart's data
   (json_script) and a canvas. No inline script: the Content-Security-Policy forbids it. */
(function () {
  "use strict";

  var FORMATS = {
    number: { maximumFractionDigits: 1 },
    count: { maximumFractionDigits: 0 },
    money: { minimumFractionDigits: 2, maximumFractionDigits: 2 },
    percent: { style: "percent", maximumFractionDigits: 2 },
  };
  var GAIN = "#5b9e4d";
  var LOSS = "#b0413e";
  var SHADE = "rgba(176, 65, 62, 0.25)";

  function formatter(format, options) {
    var number = new Intl.NumberFormat("en-US", Object.assign({}, FORMATS[format], options));
    return function (value) {
      return value === null || value === undefined ? "-" : number.format(value);
    };
  }

  function dataset(data, series) {
    var set = {
      label: series.name,
      data: series.values,
      borderColor: series.color,
      backgroundColor: series.color,
      borderWidth: data.kind === "line" ? 2 : 0,
      pointRadius: series.dashed || data.x_labels.length > 40 ? 0 : 2,
      borderDash: series.dashed ? [6, 4] : [],
      spanGaps: true,
    };
    if (series.color_by_sign) {
      set.backgroundColor = series.values.map(function (v) {
        return v !== null && v < 0 ? LOSS : GAIN;
      });
    }
    if (series.shade_to !== null) {
      set.fill = { target: series.shade_to };
      set.backgroundColor = SHADE;
    }
    return set;
  }

  function config(data) {
    var short = data.y_format === "percent" ? { maximumFractionDigits: 1 } : {};
    var tick = formatter(data.y_format, short);
    var value = formatter(data.y_format);
    var axisTitle = function (text) {
      return { display: Boolean(text), text: text };
    };
    return {
      type: data.kind,
      data: { labels: data.x_labels, datasets: data.series.map(dataset.bind(null, data)) },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: {
            stacked: data.stacked,
            title: axisTitle(data.x_title),
            ticks: { maxRotation: 0, autoSkipPadding: 12 },
          },
          y: {
            stacked: data.stacked,
            min: data.y_min === null ? undefined : data.y_min,
            max: data.y_max === null ? undefined : data.y_max,
            title: axisTitle(data.y_title),
            ticks: { callback: tick, precision: data.y_format === "count" ? 0 : undefined },
          },
        },
        plugins: {
          title: { display: false },
          legend: {
            display: data.series.length > 1,
            position: "bottom",
            // A line's swatch is a short stretch of the line, dashed for a dashed series: a box
            // stroked with the dash pattern reads as a jagged blob.
            labels: data.kind === "line" ? { usePointStyle: true, pointStyle: "line", pointStyleWidth: 28 } : {},
          },
          tooltip: {
            callbacks: {
              label: function (item) {
                return item.dataset.label + ": " + value(item.raw);
              },
            },
          },
        },
      },
    };
  }

  function themeColors() {
    // The admin's own colours, so that the axes read in its light and dark themes alike.
    var style = getComputedStyle(document.documentElement);
    var fg = style.getPropertyValue("--body-quiet-color").trim();
    var line = style.getPropertyValue("--hairline-color").trim();
    if (fg) Chart.defaults.color = fg;
    if (line) Chart.defaults.borderColor = line;
  }

  function draw() {
    if (typeof Chart === "undefined") return;
    themeColors();
    document.querySelectorAll("[data-chart]").forEach(function (element) {
      var source = element.querySelector('script[type="application/json"]');
      var canvas = element.querySelector("canvas");
      if (!source || !canvas || element.dataset.chartDrawn) return;
      new Chart(canvas, config(JSON.parse(source.textContent)));
      element.dataset.chartDrawn = "true";
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
