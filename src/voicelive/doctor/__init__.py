"""``voicelive doctor``: is this side working? Checks of the software, the sound devices and the
way to the service, each ``ok``, ``warn`` or ``fail`` with a one-line detail and fix.

:mod:`~voicelive.doctor.check` holds the result type, :mod:`~voicelive.doctor.signal_analysis`
the pure judgements on sound, ``local_checks``/``audio_checks``/``network_checks`` the checks,
:mod:`~voicelive.doctor.runner` their order, :mod:`~voicelive.doctor.render` the output.
"""
