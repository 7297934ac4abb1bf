"""Real bounce, complaint and non-bounce messages, and what a bounce processor must conclude.

The messages under ``tests/data/bounces/`` were produced by real MTAs and mail providers
(or are the worked examples of a published standard: RFC 5965 Appendix B, RFC 3798 section 9).
They are copied byte for byte from their sources; each folder's README.md names the source
and its licence. This module says, for every sample, what the message means. The verdicts
were decided by reading each message, checked against the source project's own test
expectations (flufl.bounce's tests/test_detectors.py, sisimai's test/public/*.rb), never
by running a parser.

kind
    "hard"      a permanent delivery failure of ``addresses`` (RFC 3464 ``Action: failed``
                with a 5.x.x Status, or the MTA's own wording of a permanent failure:
                "permanent error", "failed permanently", "returned", "giving up")
    "soft"      only a temporary failure / delay (``Action: delayed``, 4.x.x Status, "will keep
                trying", "this is a warning only")
    "complaint" an ARF (RFC 5965) feedback report, or a provider's own complaint format
                (Hotmail JMRP), about a message sent to ``addresses``. Where the provider
                redacted the complaining recipient, ``addresses`` is () and ``redacted`` is true:
                the processor then has to identify the recipient from the attached original's
                own headers (Message-ID, List-Unsubscribe, VERP Return-Path, ...).
    "none"      not a bounce and not a complaint: auto-replies, ordinary mail, a delivery
                success notification, a read receipt. Processing it must change nothing.

addresses
    The failed (or complaining) recipient address(es) as we sent to them, lower-cased. For a
    DSN that has both an Original-Recipient and a different Final-Recipient, the
    Original-Recipient is the one listed (it is the address on our list).

Where the source's expectation and the RFC 3464 reading disagree, the message's own Status
wins and a comment says so. Samples that could not be classified with confidence were left
out; see the notes at the end of this module.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent / "data" / "bounces"

KINDS = ("hard", "soft", "complaint", "none")


@dataclass(frozen=True)
class Sample:
    path: str                      # relative to tests/data/bounces/
    kind: str                      # "hard" | "soft" | "complaint" | "none"
    addresses: tuple[str, ...]     # failed / complaining recipients, lower-case; () for "none"
    source: str                    # where the file came from
    mta: str                       # what produced it
    redacted: bool = False         # complaint whose recipient the provider redacted


def read(sample: Sample) -> bytes:
    """The sample's raw bytes, exactly as found."""
    return (ROOT / sample.path).read_bytes()


_FLUFL = "flufl.bounce 6.0.0 tests/data/"
_SISIMAI = "sisimai set-of-emails maildir/bsd/"


def _flufl(name, kind, addresses, mta):
    return Sample(f"flufl/{name}", kind, tuple(addresses), _FLUFL + name, mta)


def _sisimai(name, kind, addresses, mta):
    return Sample(f"sisimai/{name}", kind, tuple(addresses), _SISIMAI + name, mta)


SAMPLES: tuple[Sample, ...] = (
    # ------------------------------------------------------------------ flufl.bounce: hard
    # Postfix
    # 550 5.1.1 User unknown
    _flufl("postfix_01.txt", "hard", ["xxxxx@local.ie"], "Postfix"),
    # local command died, returned
    _flufl("postfix_03.txt", "hard", ["ttttt@ggggg.com"], "Postfix"),
    # local delivery refused, returned
    _flufl("postfix_04.txt", "hard", ["userx@mail1.example.com"], "Postfix"),
    _flufl("postfix_05.txt", "hard", ["userx@example.net"], "Postfix"),       # remote 554
    # Action: failed, 5.0.0 (550 user unknown)
    _flufl("dsn_10.txt", "hard", ["anne.person@dom.ain"], "Postfix"),
    # Action: failed, 5.0.0 unknown user
    _flufl("dsn_16.txt", "hard", ["userx@example.com"], "Postfix"),
    # HotPOP: returned, over disk quota
    _flufl("hotpop_01.txt", "hard", ["userx@example.com"], "Postfix"),
    # Exim
    # 553 5.1.1 unknown user
    _flufl("exim_01.txt", "hard", ["userx@its.example.nl"], "Exim"),
    _flufl("simple_08.txt", "hard", ["userx@example.de"], "Exim"),            # 550 user unknown
    # 1&1 kundenserver, "permanent error", quota
    _flufl("simple_09.txt", "hard", ["userx@example.de"], "Exim"),
    # simple_16: the failed address is shown as "an undisclosed address (generated from
    # userx@example.com)"; the list address is the "generated from" one.
    _flufl("simple_16.txt", "hard", ["userx@example.com"], "Exim"),
    # demon.net: not collected after 30 days
    _flufl("bounce_03.txt", "hard", ["userx@example.uk"], "Exim"),
    # mail.ru (Exim), user not found
    _flufl("simple_39.txt", "hard", ["userx@example.ru"], "Mail.Ru"),
    # Sendmail
    # sendmail_01: "permanent fatal errors": zzzzz@shaft.coal.nl, "expanded from: zzzzz@nfg.nl";
    # both are listed, as flufl.bounce does (the list address is zzzzz@nfg.nl).
    _flufl("sendmail_01.txt", "hard", ["zzzzz@shaft.coal.nl", "zzzzz@nfg.nl"], "Sendmail"),
    # Action: failed, 5.1.1
    _flufl("dsn_11.txt", "hard", ["joem@example.com"], "Sendmail"),
    # permanent fatal errors, 550 5.1.1
    _flufl("dsn_14.txt", "hard", ["userx@example.com.dk"], "Sendmail"),
    # qmail
    _flufl("qmail_01.txt", "hard", ["userx@example.de"], "qmail"),
    # GoDaddy, mailfolder full, returned
    _flufl("qmail_02.txt", "hard", ["userx@example.com"], "qmail"),
    _flufl("qmail_03.txt", "hard", ["userx@example.jp"], "qmail"),            # vpopmail #5.1.1
    # MessageLabs, 550 no such user
    _flufl("qmail_04.txt", "hard", ["userx@example.au"], "qmail"),
    # untd.com, 550 user unknown
    _flufl("qmail_05.txt", "hard", ["userx@example.com"], "qmail"),
    # outblaze, "permanent error", quota
    _flufl("qmail_06.txt", "hard", ["ntl@xxx.com"], "qmail"),
    # GoDaddy, "permanent error"
    _flufl("qmail_07.txt", "hard", ["user@example.net"], "qmail"),
    _flufl("simple_19.txt", "hard", ["userx@example.com.ar"], "qmail"),       # #5.1.1 no mailbox
    # newmail.ru, quota, returned
    _flufl("newmailru_01.txt", "hard", ["zzzzz@newmail.ru"], "qmail"),
    # Microsoft Exchange
    # Exchange 5.5 IMS, unknown recipient
    _flufl("microsoft_01.txt", "hard", ["userx@example.com"], "Exchange"),
    _flufl("microsoft_02.txt", "hard", ["userx@example.com"], "Exchange"),
    # groupwise_01/02: flufl.bounce files them under GroupWise, but both are Exchange IMS NDRs
    # ("MSEXCH:IMS:..."); groupwise_02 is the HTML-bodied one.
    _flufl("groupwise_01.txt", "hard", ["userx@example.edu"], "Exchange"),
    _flufl("groupwise_02.txt", "hard", ["userx@example.com"], "Exchange"),
    # Action: failed, 5.1.1
    _flufl("dsn_13.txt", "hard", ["userx@example.com"], "Exchange"),
    # Action: failed, 5.1.1
    _flufl("dsn_15.txt", "hard", ["userx@example.com"], "Exchange"),
    # "Delivery to the following recipients failed."
    _flufl("simple_10.txt", "hard", ["userx@example.com"], "Exchange"),
    # Gmail
    _flufl("simple_17.txt", "hard", ["userx@example.com"], "Gmail"),          # "failed permanently"
    # Yahoo (qmail-derived, own wording)
    # yahoo_01: "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1) I'm not going
    # to try again; this message has been in the queue too long." The (#4.4.1) is qmail's
    # internal code, not an RFC 3464 Status; the MTA has given up, so this is a final failure.
    _flufl("yahoo_01.txt", "hard", ["userx@example.com"], "Yahoo"),
    _flufl("yahoo_02.txt", "hard", ["userx@example.es"], "Yahoo"),            # over quota, returned
    _flufl("yahoo_03.txt", "hard", ["userx@example.com"], "Yahoo"),           # account disabled
    _flufl("yahoo_04.txt", "hard", ["userx@example.es", "usery@example.uk"], "Yahoo"),
    _flufl("yahoo_05.txt", "hard", ["userx@example.com", "usery@example.com"], "Yahoo"),
    _flufl("yahoo_06.txt", "hard",
           ["userx@example.com", "usery@example.com", "userz@example.com",
            "usera@example.com"], "Yahoo"),
    _flufl("yahoo_07.txt", "hard",
           ["userw@example.com", "userx@example.com", "usery@example.com",
            "userz@example.com"], "Yahoo"),
    _flufl("yahoo_08.txt", "hard",
           ["usera@example.com", "userb@example.com", "userc@example.com",
            "userd@example.com", "usere@example.com", "userf@example.com"], "Yahoo"),
    _flufl("yahoo_09.txt", "hard", ["userx@example.com", "usery@example.com"], "Yahoo"),
    _flufl("yahoo_10.txt", "hard",
           ["userx@example.com", "usery@example.com", "userz@example.com"], "Yahoo"),
    # yahoo_11: the returned copy contains a decoy "<bogus@dont.find.me.invalid>:" line that
    # must NOT be reported.
    _flufl("yahoo_11.txt", "hard", ["bad_user@aol.com"], "Yahoo"),
    # yahoo_12: text/html body; the failed address is only in the quoted "To: user@yahoo.com".
    _flufl("yahoo_12.txt", "hard", ["user@yahoo.com"], "Yahoo"),
    _flufl("yahoo_13.txt", "hard", ["bogus-address@example.net"], "Yahoo"),   # 550 5.1.1
    # Lotus Domino
    # not listed in Domino Directory
    _flufl("simple_11.txt", "hard", ["userx@example.com"], "Lotus Domino"),
    # Other RFC 3464 producers
    # dsn_01 / dsn_04: Original-recipient is the list address, Final-recipient a local alias.
    # failed, 5.0.0 disk quota
    _flufl("dsn_01.txt", "hard", ["userx@example.com"], "Sun Internet Mail Server"),
    # failed, 5.0.0
    _flufl("dsn_04.txt", "hard", ["userx@example.ch"], "PMDF"),
    # failed, 5.0.0
    _flufl("dsn_09.txt", "hard", ["userx@example.com"], "X.400 gateway (BT)"),
    # failed, 5.1.1
    _flufl("dsn_12.txt", "hard", ["userx@example.jp"], "TeamWARE"),
    # "Action: error", 5.0.0
    _flufl("dsn_18.txt", "hard", ["email@replaced.net"], "OpenSMTPD"),
    # IMail (SMTP32)
    # "Delivery failed 20 attempts"
    _flufl("smtp32_01.txt", "hard", ["userx@example.ph"], "IMail (SMTP32)"),
    _flufl("smtp32_04.txt", "hard",
           # 553 unknown
           ["after_another@example.net", "one_bad_address@example.net"], "IMail (SMTP32)"),
    _flufl("smtp32_06.txt", "hard", ["absolute_garbage_addr@example.net"], "IMail (SMTP32)"),
    # Netscape Messaging Server: queue period expired, message returned
    _flufl("netscape_01.txt", "hard", ["aaaaa@corel.com", "bbbbb@corel.com"],
           "Netscape Messaging Server"),
    # EarthLink (Vade): "Delivery has failed", 550 over quota
    _flufl("simple_45.txt", "hard", ["subscriber@earthlink.net"], "EarthLink"),

    # ------------------------------------------------------------------ flufl.bounce: soft
    # "delayed 24 hours", warning
    _flufl("simple_03.txt", "soft", ["userx@example.za"], "Exim"),
    # 1&1, "delayed 2 days"
    _flufl("simple_40.txt", "soft", ["user@example.com"], "Exim"),
    # "just a warning ... continue"
    _flufl("simple_21.txt", "soft", ["userx@example.com"], "songbird.com"),
    # Delivery Status Notification (Delay)
    _flufl("simple_28.txt", "soft", ["userx@example.com"], "Gmail"),
    # "postponed"
    _flufl("simple_35.txt", "soft", ["calvin@example.com"], "unknown (full-mailbox advisory)"),
    # attempts continue
    _flufl("simple_22.txt", "soft", ["user@example.org"], "Symantec AntiVirus for SMTP Gateways"),
    # delayed, 4.4.1
    _flufl("dsn_05.txt", "soft", ["userx@example.cz"], "Sun Messaging Server (PMDF)"),
    # Delayed, 4.4.0
    _flufl("dsn_06.txt", "soft", ["userx@example.com"], "NPlex"),
    # delayed, 4.4.1
    _flufl("dsn_07.txt", "soft", ["userx@example.nz"], "Sun Messaging Server (PMDF)"),
    # delayed, 4.0.0
    _flufl("dsn_08.txt", "soft", ["userx@example.de"], "Postfix"),
    # dsn_17: Final-Recipient xxx@example.fi, Original-Recipient userx@example.fi
    # (the list address).
    # delayed, 4.3.0, quota
    _flufl("dsn_17.txt", "soft", ["userx@example.fi"], "Postfix"),
    # dsn_02: flufl.bounce calls this permanent, but the X.400 gateway's DSN says
    # "Action: failed" with "Status: 4.4.7" (delivery time expired, a transient class).
    # Following the message's own Status, as this corpus does, it is "soft".
    _flufl("dsn_02.txt", "soft", ["zzzzz@example.uk"], "X.400 gateway (hud.ac.uk)"),

    # ------------------------------------------------------------------ flufl.bounce: none
    # qmail_08: an auto-reply ("Auto reply", Precedence: auto_reply) sent by Exim; flufl.bounce
    # expects no address from it.
    _flufl("qmail_08.txt", "none", [], "Exim (auto-reply)"),
    # groupwise_03: an ordinary human reply (Outlook 2003) that once confused the
    # GroupWise detector.
    _flufl("groupwise_03.txt", "none", [], "Outlook 2003 (human reply)"),

    # ------------------------------------------------------------------ sisimai: hard
    # 5.1.1 userunknown
    _sisimai("lhost-exchange2007-01.eml", "hard", ["mikeneko@example.co.jp"], "Exchange"),
    _sisimai("lhost-exchange2003-02.eml", "hard",
             # 2x unknown recipient
             ["kijitora@example.co.jp", "mikeneko@example.co.jp"], "Exchange"),
    # 5.1.1 userunknown
    _sisimai("lhost-gmail-01.eml", "hard", ["userunknown@example.jp"], "Gmail"),
    # 5.2.2, "failed permanently"
    _sisimai("lhost-gmail-16.eml", "hard", ["mailboxfull@bouncehammer.jp"], "Gmail"),
    # 5.1.1 userunknown
    _sisimai("lhost-yahoo-01.eml", "hard", ["kijitora@example.org"], "Yahoo"),
    # lhost-yahoo-13: "Unable to deliver message after multiple retries, giving up." (sisimai:
    # expired). No RFC 3464 status; the MTA has given up, so it is a final failure.
    _sisimai("lhost-yahoo-13.eml", "hard", ["neko@sijo.example.jp"], "Yahoo"),
    # failed, 5.1.1
    _sisimai("lhost-outlook-02.eml", "hard", ["kijitora@example.jp"], "Outlook.com/Hotmail"),
    _sisimai("lhost-outlook-04.eml", "hard",
             # failed 5.1.1 + 5.2.2
             ["sabineko@example.co.jp", "mikeneko@example.co.jp"], "Outlook.com/Hotmail"),
    # 5.1.10 RecipientNotFound
    _sisimai("lhost-office365-01.eml", "hard", ["kijitora@example.com"], "Office 365"),
    # failed, 5.1.1
    _sisimai("lhost-office365-11.eml", "hard", ["kijitora@cr3.neko.nyaan.jp"], "Office 365"),
    _sisimai("lhost-exim-02.eml", "hard", ["kijitora@example.jp", "sabatora@example.jp"], "Exim"),
    # 550 5.1.1
    _sisimai("lhost-exim-59.eml", "hard", ["kijitora@icloud.example.com"], "Exim"),
    # failed, 5.1.1
    _sisimai("lhost-sendmail-01.eml", "hard", ["userunknown@bouncehammer.jp"], "Sendmail"),
    _sisimai("lhost-sendmail-02.eml", "hard",
             # failed 5.1.1 + 5.2.1
             ["userunknown@example.org", "filtered@example.com"], "Sendmail"),
    _sisimai("lhost-postfix-02.eml", "hard",
             # failed 5.2.1 + 5.1.1
             ["filtered@example.co.jp", "userunknown@example.co.jp"], "Postfix"),
    # failed, 5.1.1
    _sisimai("lhost-postfix-04.eml", "hard", ["kijitora@example.co.jp"], "Postfix"),
    # Gmail MX said 5.1.1
    _sisimai("rhost-google-02.eml", "hard", ["neko-nyaan@example.org"], "Postfix"),
    # failed, 5.0.0 (mailbox full)
    _sisimai("lhost-amazonses-03.eml", "hard", ["kijitora@example.jp"], "Amazon SES"),
    # failed, 5.1.1
    _sisimai("lhost-amazonses-05.eml", "hard", ["bounce@simulator.amazonses.com"], "Amazon SES"),
    # O365 MX, failed 5.1.10
    _sisimai("rhost-microsoft-03.eml", "hard", ["kijitora@example.com"], "Amazon SES"),
    _sisimai("lhost-qmail-02.eml", "hard",
             ["userunknown@example.jp", "filtered@example.jp"], "qmail"),
    # 550 5.1.1
    _sisimai("lhost-opensmtpd-01.eml", "hard",
             ["apdugoaidugoaidugoaeiudggadi@gmail.com"], "OpenSMTPD"),
    # not listed in Domino Directory
    _sisimai("lhost-domino-01.eml", "hard", ["kijitora@example.jp"], "Lotus Domino"),

    # ------------------------------------------------------------------ sisimai: soft
    # Delay, 450 4.2.2 mailbox full
    _sisimai("lhost-gmail-06.eml", "soft", ["kijitora@example.jp"], "Gmail"),
    # Delay, socket error
    _sisimai("lhost-gmail-17.eml", "soft", ["mikeneko@libsisimai.org"], "Gmail"),
    # delayed, 4.4.1
    _sisimai("rhost-gsuite-06.eml", "soft", ["sotoneko@nora.nyaan.jp"], "Gmail"),
    # delayed, 4.4.7
    _sisimai("lhost-outlook-06.eml", "soft", ["kijitora@example.com"], "Outlook.com/Hotmail"),
    _sisimai("lhost-sendmail-29.eml", "soft",
             # delayed, 4.5.0
             ["this-local-part-does-not-exist-on-the-system@y-mobile.ne.jp"], "Sendmail"),
    # delayed 4.0.0
    _sisimai("lhost-opensmtpd-13.eml", "soft",
             ["pseudo-local-part-of-yahoo-inc@yahoo.com"], "OpenSMTPD"),
    _sisimai("lhost-messagingserver-07.eml", "soft", ["kijitora@2jo.example.jp"],
             # delayed, 4.4.7
             "Oracle Communications Messaging Server"),
    # delayed 24 hours
    _sisimai("lhost-exim-38.eml", "soft", ["kijitora@example.co.jp"], "Exim"),
    # warning, will retry
    _sisimai("lhost-zoho-04.eml", "soft", ["kijitora@6kaku.example.co.jp"], "Zoho Mail"),

    # ------------------------------------------------------------------ ARF / complaints
    # RFC 5965 Appendix B.1: minimal report, no recipient given at all.
    Sample("arf/rfc5965-appendix-b1.eml", "complaint", (),
           "RFC 5965 Appendix B.1 (via stalwartlabs/mail-auth resources/arf/001.eml)",
           "RFC 5965 example", redacted=True),
    # RFC 5965 Appendix B.2: Original-Rcpt-To and Removal-Recipient user@example.com.
    Sample("arf/rfc5965-appendix-b2.eml", "complaint", ("user@example.com",),
           "RFC 5965 Appendix B.2 (via stalwartlabs/mail-auth resources/arf/002.eml)",
           "RFC 5965 example"),
    Sample("arf/node-bounce-handler-fbl-yahoo.txt", "complaint", ("someuser@yahoo.com",),
           "prasad83/node-bounce-handler eml/fbl-yahoo.txt", "Yahoo"),
    Sample("arf/node-bounce-handler-arf4.txt", "complaint", ("giribhantana@yahoo.com",),
           "prasad83/node-bounce-handler eml/arf4.txt", "Yahoo"),
    Sample("arf/sisimai-arf-02.eml", "complaint",
           ("this-local-part-does-not-exist-on-yahoo@yahoo.com",),
           _SISIMAI + "arf-02.eml", "Yahoo"),
    # AOL redacts the recipient ("To: redacted@aol.com" in the attached original).
    Sample("arf/node-bounce-handler-fbl-aol.txt", "complaint", (),
           "prasad83/node-bounce-handler eml/fbl-aol.txt", "AOL", redacted=True),
    Sample("arf/node-bounce-handler-arf5.txt", "complaint", (),
           "prasad83/node-bounce-handler eml/arf5.txt", "AOL", redacted=True),
    # Comcast (Return Path FBL) redacts: "Original-Rcpt-To: undisclosed comcast recipient
    # <redacted@comcast.net>".
    Sample("arf/node-bounce-handler-fbl-comcast.txt", "complaint", (),
           "prasad83/node-bounce-handler eml/fbl-comcast.txt", "Comcast", redacted=True),
    # Hotmail JMRP: not ARF but Microsoft's own format (multipart/mixed with the original
    # attached); the recipient is in X-HmXmrOriginalRecipient.
    Sample("arf/sisimai-arf-22.eml", "complaint", ("kijitora@example.com",),
           _SISIMAI + "arf-22.eml", "Hotmail (JMRP)"),
    # Return Path FBL with the recipient replaced by "undisclosed".
    Sample("arf/sisimai-arf-15.eml", "complaint", (), _SISIMAI + "arf-15.eml",
           "Return Path FBL", redacted=True),
    # One Return Path FBL report naming seven complaining recipients (Original-Rcpt-To x7).
    Sample("arf/sisimai-arf-16.eml", "complaint",
           ("kijitora@example.com", "sironeko@example.com", "mikeneko@example.com",
            "sabatora@example.com",
            "sirokiji@example.org", "kuroneko@example.com", "sabineko@example.com"),
           _SISIMAI + "arf-16.eml", "Return Path FBL"),
    # Terra via Return Path FBL: no Original-Rcpt-To; the recipient is the To: of the
    # attached original message.
    Sample("arf/sisimai-arf-21.eml", "complaint", ("kijitora@example.org",),
           _SISIMAI + "arf-21.eml", "Terra (Return Path FBL)"),

    # ------------------------------------------------------------------ not bounces
    # RFC 3834 auto-replies / out-of-office
    Sample("not_bounces/sisimai-rfc3834-01.eml", "none", (), _SISIMAI + "rfc3834-01.eml",
           "vacation auto-reply (Auto-Submitted: auto-replied)"),
    Sample("not_bounces/sisimai-rfc3834-02.eml", "none", (), _SISIMAI + "rfc3834-02.eml",
           "Exchange (Automatic reply)"),
    Sample("not_bounces/sisimai-rfc3834-03.eml", "none", (), _SISIMAI + "rfc3834-03.eml",
           "iCloud Mail (auto reply)"),
    Sample("not_bounces/sisimai-rfc3834-04.eml", "none", (), _SISIMAI + "rfc3834-04.eml",
           "Exchange (Automatic reply)"),
    Sample("not_bounces/sisimai-rfc3834-06.eml", "none", (), _SISIMAI + "rfc3834-06.eml",
           "auto-responder behind Mimecast (Auto-Submitted: auto-replied)"),
    # Ordinary mail: a plain message, and a human message forwarding an earlier mail as a
    # message/rfc822 attachment ("it shouldn't be considered as bounce").
    Sample("not_bounces/sisimai-is-not-bounce-01.eml", "none", (),
           "sisimai set-of-emails maildir/not/is-not-bounce-01.eml", "Haineko (ordinary message)"),
    Sample("not_bounces/sisimai-is-not-bounce-02.eml", "none", (),
           "sisimai set-of-emails maildir/not/is-not-bounce-02.eml", "Apple Mail (human message)"),
    # Amazon SES delivery (success) notification sent through SNS: a JSON body with
    # "notificationType":"Delivery". Not a bounce.
    Sample("not_bounces/sisimai-lhost-amazonses-12.eml", "none", (),
           _SISIMAI + "lhost-amazonses-12.eml",
           "Amazon SES (SNS delivery notification)"),
    # Read receipt: the RFC 3798 section 9 example MDN (multipart/report;
    # report-type=disposition-notification, "displayed").
    Sample("not_bounces/rfc3798-mdn-example.txt", "none", (),
           "RFC 3798 section 9 example (via jstedfast/MimeKit UnitTests/TestData/messages/"
           "disposition-notification.txt)", "RFC 3798 example (Foomail MDN)"),
)

# Samples looked at and deliberately left out (not classifiable with confidence, or not
# checkable here):
#   flufl aol_01.txt       AOL names only the screen name "screenname"; the address
#                          (screenname@aol.com) never appears in the message.
#   flufl postfix_02.txt   returned, but the reason is "Host not found, try again"
#                          (a transient DNS error) with no Status: hard or soft is arguable.
#   flufl simple_14.txt    the text names usery@ as undeliverable and userx@ in the 552 reply:
#                          which recipient failed is ambiguous.
#   flufl simple_42.txt    the address is obfuscated ("david...@gmail.com").
#   flufl simple_43.txt    no failed address in the report at all.
#   flufl llnl_01.txt      LLNL's custom "did not match an address" responder.
#   flufl dumbass_01.txt   no address detectable (flufl.bounce says the same).
#   sisimai lhost-*/rhost-* with "Action: failed" and a 4.x.x Status (e.g. lhost-sendmail-08,
#                          lhost-postfix-08, lhost-amazonses-17, rhost-yahooinc-02): the MTA has
#                          given up but the status class is transient; left out rather than
#                          pick a side (flufl dsn_02 is the one such case kept, as "soft").
#   sisimai maildir/not/rb-issue-368-bug.eml   filed by sisimai as "not a bounce" but it is a
#                          "Mailbox full" rejection notice carrying Auto-Submitted: auto-replied.
#   sisimai rfc3834-05.eml body is a bare address and a word; not clearly an auto-reply.
#   sisimai arf-14, arf-17, arf-25, prasad83 fbl-hotmail.txt: the report's recipient and the
#                          attached original's To: disagree (anonymisation), or it is hashed.
#   ARF auth-failure reports (RFC 6591 examples, OpenDMARC, sisimai arf-18..20): these are
#                          DMARC/DKIM failure reports, not complaints by a recipient, and fit
#                          none of the four kinds.
# Not found in licence-compatible public test data: a challenge-response request
# (Boxbe / Spam Arrest / Mailinblack style), a Gmail vacation-responder reply, and an
# RFC 3464 DSN with Action: delivered/relayed.
