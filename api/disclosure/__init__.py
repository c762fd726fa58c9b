"""Public disclosure (公示栏): the board of a unit at ``/public/<code>``, its JSON under
``/api/v1/public/units/<code>/disclosures``, the printable notice (PDF), the landing page ``/``
that leads people to it, and the staff's approval of a title for publication."""
