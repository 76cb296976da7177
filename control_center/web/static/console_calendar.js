// The week calendar: drag an approved bulletin from the side list onto a day (or an hour)
// to open the schedule form for that time.
(function () {
  document.querySelectorAll('[data-bulletin][draggable=true]').forEach(function (item) {
    item.addEventListener('dragstart', function (e) {
      e.dataTransfer.setData('text/plain', item.dataset.bulletin);
      e.dataTransfer.effectAllowed = 'copy';
    });
  });
  document.querySelectorAll('#calendar [data-date]').forEach(function (cell) {
    cell.addEventListener('dragover', function (e) { e.preventDefault(); cell.classList.add('drop'); });
    cell.addEventListener('dragleave', function () { cell.classList.remove('drop'); });
    cell.addEventListener('drop', function (e) {
      e.preventDefault();
      var id = e.dataTransfer.getData('text/plain');
      if (!/^\d+$/.test(id)) { return; }
      var url = '/console/schedules/new?bulletin_id=' + id + '&date=' + cell.dataset.date;
      if (cell.dataset.hour) { url += '&time=' + ('0' + cell.dataset.hour).slice(-2) + ':00'; }
      window.location.href = url;
    });
  });
})();
