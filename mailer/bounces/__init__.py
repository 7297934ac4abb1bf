"""Bounces and complaints: what comes back after a letter was accepted.

- ``verp``      the token in each letter's envelope sender (and Message-ID) naming its delivery;
- ``reports``   what a message says: a permanent or temporary failure, a complaint, or nothing;
- ``intake``    one message in: find the delivery, record the bounce, suppress or unsubscribe;
- ``mailbox``   the IMAP or POP3 mailbox ``flask bounces fetch`` reads;
- ``suppression`` lifting a suppression by hand, and the counts pages show.
"""
