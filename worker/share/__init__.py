"""Doctor shares, the worker's part: the e-mail that tells a recipient about a share.

The database makes shares (``create_doctor_share``) and resolves links
(``get_shared_report``); this room reads a share, mints the e-mailed link and sends the
message (:mod:`worker.share.notification`) through a mailer (:mod:`worker.share.mail`).
"""
