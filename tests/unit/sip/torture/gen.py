#!/usr/bin/env python3
"""Writes the RFC 4475 torture messages into this folder as <name>.sip, one file per
message, with CRLF line ends as on the wire. The texts are those of RFC 4475 §3
(Sparks et al., 2006); the RFC draws non-printable bytes as <hex..> and a repeated
run with <repeat>, expanded here. mpart01's binary body part (a DER blob in the RFC)
is replaced by bytes of the same kind (NULs and high bytes) and its Content-Length
recomputed: what it tests is framing a body that holds NULs.
Run: python3 tests/unit/sip/torture/gen.py  (the .sip files are committed)."""
import os

SDP150 = "v=0\no=mhandley 29739 7272939 IN IP4 192.0.2.{h}\ns=-\nc=IN IP4 192.0.2.{h}\nt=0 0\nm=audio 49217 RTP/AVP 0 12\nm=video 3227 RTP/AVP 31\na=rtpmap:31 LPC\n"

M = {}
M["wsinv"] = ("INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\n"
"TO :\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\n"
"from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\n  ;\n  tag = 98asjd8\n"
"MaX-fOrWaRdS: 0068\nCall-ID: wsinv.ndaksdj@192.0.2.1\nContent-Length   : 150\n"
"cseq: 0009\n  INVITE\nVia  : SIP  /   2.0\n /UDP\n    192.0.2.2;branch=390skdjuw\ns :\n"
"NewFangledHeader:   newfangled value\n continued newfangled value\n"
"UnknownHeaderWithUnusualValue: ;;,,;;,;\nContent-Type: application/sdp\n"
"Route:\n <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\n"
"v:  SIP  / 2.0  / TCP     spindle.example.com   ;\n  branch  =   z9hG4bK9ikj8  ,\n"
" SIP  /    2.0   / UDP  192.168.255.111   ; branch=\n z9hG4bK30239\n"
"m:\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =\n      newvalue ;\n"
"  secondparam ; q = 0.33\n\n" + SDP150.format(h=3).replace("c=IN IP4 192.0.2.3", "c=IN IP4 192.0.2.4"))
M["intmeth"] = ("!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0\n"
"Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\n"
"To: \"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>\n"
"From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439\";tag=_token~1'+`*%!-.\n"
"Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{\n"
"CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~\nMax-Forwards: 255\n"
"extensionHeader-!.%*+_`'~:\ufeff\u5927\u505c\u96fb\nContent-Length: 0\n\n")
M["esc01"] = ("INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0\nTo: sip:%75se%72@example.com\n"
"From: <sip:I%20have%20spaces@example.net>;tag=938\nMax-Forwards: 87\ni: esc01.239409asdfakjkn23onasd0-3234\n"
"CSeq: 234234 INVITE\nVia: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw\nC: application/sdp\n"
"Contact:\n  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>\nContent-Length: 150\n\n" + SDP150.format(h=1))
M["escnull"] = ("REGISTER sip:example.com SIP/2.0\nTo: sip:null-%00-null@example.com\n"
"From: sip:null-%00-null@example.com;tag=839923423\nMax-Forwards: 70\nCall-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd\n"
"CSeq: 14398234 REGISTER\nVia: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw\n"
"Contact: <sip:%00@host5.example.com>\nContact: <sip:%00%00@host5.example.com>\nL:0\n\n")
M["esc02"] = ("RE%47IST%45R sip:registrar.example.com SIP/2.0\nTo: \"%Z%45\" <sip:resource@example.com>\n"
"From: \"%Z%45\" <sip:resource@example.com>;tag=f232jadfj23\nCall-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf\n"
"Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK209%fzsnel234\nCSeq: 29344 RE%47IST%45R\nMax-Forwards: 70\n"
"Contact: <sip:alias1@host1.example.com>\nC%6Fntact: <sip:alias2@host2.example.com>\n"
"Contact: <sip:alias3@host3.example.com>\nl: 0\n\n")
M["lwsdisp"] = ("OPTIONS sip:user@example.com SIP/2.0\nTo: sip:user@example.com\nFrom: caller<sip:caller@example.com>;tag=323\n"
"Max-Forwards: 70\nCall-ID: lwsdisp.1234abcd@funky.example.com\nCSeq: 60 OPTIONS\n"
"Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw\nl: 0\n\n")
vias = "Via: SIP/2.0/TCP sip33.example.com\nv: SIP/2.0/TCP sip32.example.com\nV: SIP/2.0/TCP sip31.example.com\nVia: SIP/2.0/TCP sip30.example.com\nViA: SIP/2.0/TCP sip29.example.com\nVIa: SIP/2.0/TCP sip28.example.com\nVIA: SIP/2.0/TCP sip27.example.com\nvia: SIP/2.0/TCP sip26.example.com\nviA: SIP/2.0/TCP sip25.example.com\nvIa: SIP/2.0/TCP sip24.example.com\nvIA: SIP/2.0/TCP sip23.example.com\nV :  SIP/2.0/TCP sip22.example.com\nv :  SIP/2.0/TCP sip21.example.com\nV  : SIP/2.0/TCP sip20.example.com\nv  : SIP/2.0/TCP sip19.example.com\nVia : SIP/2.0/TCP sip18.example.com\nVia  : SIP/2.0/TCP sip17.example.com\n" + "".join("Via: SIP/2.0/TCP sip%d.example.com\n" % i for i in range(16, 0, -1))
M["longreq"] = ("INVITE sip:user@example.com SIP/2.0\n"
"To: \"I have a user name of " + "extreme" * 10 + " proportion\"<sip:user@example.com:6000;unknownparam1=very" + "long" * 20 + "value;longparam" + "name" * 25 + "=shortvalue;very" + "long" * 25 + "ParameterNameWithNoValue>\n"
"F: sip:" + "amazinglylongcallername" * 5 + "@example.net;tag=12" + "982" * 50 + "424;unknownheaderparam" + "name" * 20 + "=unknowheaderparam" + "value" * 15 + ";unknownValueless" + "paramname" * 10 + "\n"
"Call-ID: longreq.one" + "really" * 20 + "longcallid\nCSeq: 3882340 INVITE\n"
"Unknown-" + "Long" * 20 + "-Name: unknown-" + "long" * 20 + "-value; unknown-" + "long" * 20 + "-parameter-name = unknown-" + "long" * 20 + "-parameter-value\n"
+ vias + "Via: SIP/2.0/TCP host.example.com;received=192.0.2.5;branch=very" + "long" * 50 + "branchvalue\n"
"Max-Forwards: 70\nContact: <sip:" + "amazinglylongcallername" * 5 + "@host5.example.net>\nContent-Type: application/sdp\nl: 150\n\n" + SDP150.format(h=1))
M["dblreq"] = ("REGISTER sip:example.com SIP/2.0\nTo: sip:j.user@example.com\nFrom: sip:j.user@example.com;tag=43251j3j324\n"
"Max-Forwards: 8\nI: dblreq.0ha0isndaksdj99sdfafnl3lk233412\nContact: sip:j.user@host.example.com\nCSeq: 8 REGISTER\n"
"Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492\nContent-Length: 0\n\n"
"INVITE sip:joe@example.com SIP/2.0\nt: sip:joe@example.com\nFrom: sip:caller@example.net;tag=141334\nMax-Forwards: 8\n"
"Call-ID: dblreq.0ha0isnda977644900765@192.0.2.15\nCSeq: 8 INVITE\nVia: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234\n"
"Content-Type: application/sdp\nContent-Length: 150\n\n" + SDP150.format(h=15).replace("m=video", "m =video"))
M["semiuri"] = ("OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0\nTo: sip:j_user@example.com\n"
"From: sip:caller@example.org;tag=33242\nMax-Forwards: 3\nCall-ID: semiuri.0ha0isndaksdj\nCSeq: 8 OPTIONS\n"
"Accept: application/sdp, application/pkcs7-mime,\n        multipart/mixed, multipart/signed,\n        message/sip, message/sipfrag\n"
"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw\nl: 0\n\n")
M["transports"] = ("OPTIONS sip:user@example.com SIP/2.0\nTo: sip:user@example.com\nFrom: <sip:caller@example.com>;tag=323\n"
"Max-Forwards: 70\nCall-ID:  transports.kijh4akdnaqjkwendsasfdj\nAccept: application/sdp\nCSeq: 60 OPTIONS\n"
"Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw\nVia: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf\n"
"Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj\nVia: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en\n"
"Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee\nl: 0\n\n")
mp_body_head = ("--7a9cbec02ceef655\nContent-Type: text/plain\nContent-Transfer-Encoding: binary\n\nHello\n"
"--7a9cbec02ceef655\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: binary\n\n")
MPART_BIN = bytes([0x30, 0x82, 0x01, 0x52, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x00, 0x00, 0x01, 0x00, 0x0d, 0x0a, 0xff, 0x00]) * 12
M["mpart01"] = None  # built below (binary)
M["unreason"] = ("SIP/2.0 200 = 2**3 * 5**2 \u043d\u043e \u0441\u0442\u043e \u0434\u0435\u0432\u044f\u043d\u043e\u0441\u0442\u043e \u0434\u0435\u0432\u044f\u0442\u044c - \u043f\u0440\u043e\u0441\u0442\u043e\u0435\n"
"Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923\nCall-ID: unreason.1234ksdfak3j2erwedfsASdf\nCSeq: 35 INVITE\n"
"From: sip:user@example.com;tag=11141343\nTo: sip:user@example.edu;tag=2229\nContent-Length: 154\nContent-Type: application/sdp\n"
"Contact: <sip:user@host198.example.com>\n\n" + SDP150.format(h=198))
M["noreason"] = ("SIP/2.0 100 \nVia: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\nCall-ID: noreason.asndj203insdf99223ndf\n"
"CSeq: 35 INVITE\nFrom: <sip:user@example.com>;tag=39ansfi3\nTo: <sip:user@example.edu>;tag=902jndnke3\nContent-Length: 0\n"
"Contact: <sip:user@host105.example.com>\n\n")
M["badinv01"] = ("INVITE sip:user@example.com SIP/2.0\nTo: sip:j.user@example.com\nFrom: sip:caller@example.net;tag=134161461246\n"
"Max-Forwards: 7\nCall-ID: badinv01.0ha0isndaksdjasdf3234nas\nCSeq: 8 INVITE\nVia: SIP/2.0/UDP 192.0.2.15;;,;,,\n"
"Contact: \"Joe\" <sip:joe@example.org>;;;;\nContent-Length: 152\nContent-Type: application/sdp\n\n" + SDP150.format(h=15))
M["clerr"] = ("INVITE sip:user@example.com SIP/2.0\nMax-Forwards: 80\nTo: sip:j.user@example.com\nFrom: sip:caller@example.net;tag=93942939o2\n"
"Contact: <sip:caller@hungry.example.net>\nCall-ID: clerr.0ha0isndaksdjweiafasdk3\nCSeq: 8 INVITE\n"
"Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bK-39234-23523\nContent-Type: application/sdp\nContent-Length: 9999\n\n" + SDP150.format(h=155))
M["ncl"] = ("INVITE sip:user@example.com SIP/2.0\nMax-Forwards: 254\nTo: sip:j.user@example.com\nFrom: sip:caller@example.net;tag=32394234\n"
"Call-ID: ncl.0ha0isndaksdj2193423r542w35\nCSeq: 0 INVITE\nVia: SIP/2.0/UDP 192.0.2.53;branch=z9hG4bKkdjuw\n"
"Contact: <sip:caller@example53.example.net>\nContent-Type: application/sdp\nContent-Length: -999\n\n" + SDP150.format(h=53))
M["scalar02"] = ("REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/TCP host129.example.com;branch=z9hG4bK342sdfoi3\nTo: <sip:user@example.com>\n"
"From: <sip:user@example.com>;tag=239232jh3\nCSeq: 36893488147419103232 REGISTER\nCall-ID: scalar02.23o0pd9vanlq3wnrlnewofjas9ui32\n"
"Max-Forwards: 300\nExpires: 1" + "0" * 100 + "\nContact: <sip:user@host129.example.com>\n  ;expires=280297596632815\nContent-Length: 0\n\n")
M["scalarlg"] = ("SIP/2.0 503 Service Unavailable\nVia: SIP/2.0/TCP host129.example.com;branch=z9hG4bKzzxdiwo34sw;received=192.0.2.129\n"
"To: <sip:user@example.com>\nFrom: <sip:other@example.net>;tag=2easdjfejw\nCSeq: 9292394834772304023312 OPTIONS\n"
"Call-ID: scalarlg.noase0of0234hn2qofoaf0232aewf2394r\nRetry-After: 949302838503028349304023988\n"
"Warning: 1812 overture \"In Progress\"\nContent-Length: 0\n\n")
M["quotbal"] = ("INVITE sip:user@example.com SIP/2.0\nTo: \"Mr. J. User <sip:j.user@example.com>\nFrom: sip:caller@example.net;tag=93334\n"
"Max-Forwards: 10\nCall-ID: quotbal.aksdj\nContact: <sip:caller@host59.example.net>\nCSeq: 8 INVITE\n"
"Via: SIP/2.0/UDP 192.0.2.59:5050;branch=z9hG4bKkdjuw39234\nContent-Type: application/sdp\nContent-Length: 152\n\n" + SDP150.format(h=15))
M["ltgtruri"] = ("INVITE <sip:user@example.com> SIP/2.0\nTo: sip:user@example.com\nFrom: sip:caller@example.net;tag=39291\nMax-Forwards: 23\n"
"Call-ID: ltgtruri.1@192.0.2.5\nCSeq: 1 INVITE\nVia: SIP/2.0/UDP 192.0.2.5\nContact: <sip:caller@host5.example.net>\n"
"Content-Type: application/sdp\nContent-Length: 159\n\n" + SDP150.format(h=5).replace("t=0 0", "t=3149328700 0"))
M["lwsruri"] = ("INVITE sip:user@example.com; lr SIP/2.0\nTo: sip:user@example.com;tag=3xfe-9921883-z9f\nFrom: sip:caller@example.net;tag=231413434\n"
"Max-Forwards: 5\nCall-ID: lwsruri.asdfasdoeoi2323-asdfwrn23-asd834rk423\nCSeq: 2130706432 INVITE\n"
"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKkdjuw2395\nContact: <sip:caller@host1.example.net>\n"
"Content-Type: application/sdp\nContent-Length: 159\n\n" + SDP150.format(h=1).replace("t=0 0", "t=3149328700 0"))
M["lwsstart"] = ("INVITE  sip:user@example.com  SIP/2.0\nMax-Forwards: 8\nTo: sip:user@example.com\nFrom: sip:caller@example.net;tag=8814\n"
"Call-ID: lwsstart.dfknq234oi243099adsdfnawe3@example.com\nCSeq: 1893884 INVITE\nVia: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw3923\n"
"Contact: <sip:caller@host1.example.net>\nContent-Type: application/sdp\nContent-Length: 150\n\n" + SDP150.format(h=1))
M["trws"] = ("OPTIONS sip:remote-target@example.com SIP/2.0  \nVia: SIP/2.0/TCP host1.examle.com;branch=z9hG4bK299342093\n"
"To: <sip:remote-target@example.com>\nFrom: <sip:local-resource@example.com>;tag=329429089\nCall-ID: trws.oicu34958239neffasdhr2345r\n"
"Accept: application/sdp\nCSeq: 238923 OPTIONS\nMax-Forwards: 70\nContent-Length: 0\n\n")
M["escruri"] = ("INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0\nTo: sip:user@example.com\nFrom: sip:caller@example.net;tag=341518\n"
"Max-Forwards: 7\nContact: <sip:caller@host39923.example.net>\nCall-ID: escruri.23940-asdfhj-aje3br-234q098w-fawerh2q-h4n5\n"
"CSeq: 149209342 INVITE\nVia: SIP/2.0/UDP host-of-the-hour.example.com;branch=z9hG4bKkdjuw\nContent-Type: application/sdp\n"
"Content-Length: 150\n\n" + SDP150.format(h=1))
M["baddate"] = ("INVITE sip:user@example.com SIP/2.0\nTo: sip:user@example.com\nFrom: sip:caller@example.net;tag=2234923\nMax-Forwards: 70\n"
"Call-ID: baddate.239423mnsadf3j23lj42--sedfnm234\nCSeq: 1392934 INVITE\nVia: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw\n"
"Date: Fri, 01 Jan 2010 16:00:00 EST\nContact: <sip:caller@host5.example.net>\nContent-Type: application/sdp\nContent-Length: 150\n\n" + SDP150.format(h=5))
M["regbadct"] = ("REGISTER sip:example.com SIP/2.0\nTo: sip:user@example.com\nFrom: sip:user@example.com;tag=998332\nMax-Forwards: 70\n"
"Call-ID: regbadct.k345asrl3fdbv@10.0.0.1\nCSeq: 1 REGISTER\nVia: SIP/2.0/UDP 135.180.130.133:5060;branch=z9hG4bKkdjuw\n"
"Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E\nl: 0\n\n")
M["badaspec"] = ("OPTIONS sip:user@example.org SIP/2.0\nVia: SIP/2.0/UDP host4.example.com:5060;branch=z9hG4bKkdju43234\nMax-Forwards: 70\n"
"From: \"Bell, Alexander\" <sip:a.g.bell@example.com>;tag=433423\nTo: \"Watson, Thomas\" < sip:t.watson@example.org >\n"
"Call-ID: badaspec.sdf0234n2nds0a099u23h3hnnw009cdkne3\nAccept: application/sdp\nCSeq: 3923239 OPTIONS\nl: 0\n\n")
M["baddn"] = ("OPTIONS sip:t.watson@example.org SIP/2.0\nVia:     SIP/2.0/UDP c.example.com:5060;branch=z9hG4bKkdjuw\nMax-Forwards:      70\n"
"From:    Bell, Alexander <sip:a.g.bell@example.com>;tag=43\nTo:      Watson, Thomas <sip:t.watson@example.org>\n"
"Call-ID: baddn.31415@c.example.com\nAccept: application/sdp\nCSeq:    3923239 OPTIONS\nl: 0\n\n")
M["badvers"] = ("OPTIONS sip:t.watson@example.org SIP/7.0\nVia:     SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw\nMax-Forwards:     70\n"
"From:    A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe\nTo:      T. Watson <sip:t.watson@example.org>\n"
"Call-ID: badvers.31417@c.example.com\nCSeq:    1 OPTIONS\nl: 0\n\n")
M["mismatch01"] = ("OPTIONS sip:user@example.com SIP/2.0\nTo: sip:j.user@example.com\nFrom: sip:caller@example.net;tag=34525\nMax-Forwards: 6\n"
"Call-ID: mismatch01.dj0234sxdfl3\nCSeq: 8 INVITE\nVia: SIP/2.0/UDP host.example.com;branch=z9hG4bKkdjuw\nl: 0\n\n")
M["mismatch02"] = ("NEWMETHOD sip:user@example.com SIP/2.0\nTo: sip:j.user@example.com\nFrom: sip:caller@example.net;tag=34525\nMax-Forwards: 6\n"
"Call-ID: mismatch02.dj0234sxdfl3\nCSeq: 8 INVITE\nContact: <sip:caller@host.example.net>\nVia: SIP/2.0/UDP host.example.net;branch=z9hG4bKkdjuw\n"
"Content-Type: application/sdp\nl: 138\n\nv=0\no=mhandley 29739 7272939 IN IP4 192.0.2.1\nc=IN IP4 192.0.2.1\nm=audio 49217 RTP/AVP 0 12\nm=video 3227 RTP/AVP 31\na=rtpmap:31 LPC\n")
M["bigcode"] = ("SIP/2.0 4294967301 better not break the receiver\nVia: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe\n"
"Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i\nCSeq: 353494 INVITE\nFrom: <sip:user@example.com>;tag=39ansfi3\n"
"To: <sip:user@example.edu>;tag=902jndnke3\nContent-Length: 0\nContact: <sip:user@host105.example.com>\n\n")
M["badbranch"] = ("OPTIONS sip:user@example.com SIP/2.0\nTo: sip:user@example.com\nFrom: sip:caller@example.org;tag=33242\nMax-Forwards: 3\n"
"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK\nAccept: application/sdp\nCall-ID: badbranch.sadonfo23i420jv0as0derf3j3n\nCSeq: 8 OPTIONS\nl: 0\n\n")
M["insuf"] = ("INVITE sip:user@example.com SIP/2.0\nCSeq: 193942 INVITE\nVia: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf\n"
"Content-Type: application/sdp\nl: 152\n\n" + SDP150.format(h=95))
M["unkscm"] = ("OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0\nTo: sip:user@example.com\nFrom: sip:caller@example.net;tag=384\n"
"Max-Forwards: 3\nCall-ID: unkscm.nasdfasser0q239nwsdfasdkl34\nCSeq: 3923423 OPTIONS\nVia: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234\n"
"Content-Length: 0\n\n")
M["novelsc"] = ("OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0\nTo: sip:user@example.com\nFrom: sip:caller@example.net;tag=384\nMax-Forwards: 3\n"
"Call-ID: novelsc.asdfasser0q239nwsdfasdkl34\nCSeq: 3923423 OPTIONS\nVia: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234\nContent-Length: 0\n\n")
M["unksm2"] = ("REGISTER sip:example.com SIP/2.0\nTo: isbn:2983792873\nFrom: <http://www.example.com>;tag=3234233\n"
"Call-ID: unksm2.daksdj@hyphenated-host.example.com\nCSeq: 234902 REGISTER\nMax-Forwards: 70\nVia: SIP/2.0/UDP 192.0.2.21:5060;branch=z9hG4bKkdjuw\n"
"Contact: <name:John_Smith>\nl: 0\n\n")
M["bext01"] = ("OPTIONS sip:user@example.com SIP/2.0\nTo: sip:j_user@example.com\nFrom: sip:caller@example.net;tag=242etr\nMax-Forwards: 6\n"
"Call-ID: bext01.0ha0isndaksdj\nRequire: nothingSupportsThis, nothingSupportsThisEither\n"
"Proxy-Require: noProxiesSupportThis, norDoAnyProxiesSupportThis\nCSeq: 8 OPTIONS\nVia: SIP/2.0/TLS fold-and-staple.example.com;branch=z9hG4bKkdjuw\n"
"Content-Length: 0\n\n")
M["invut"] = ("INVITE sip:user@example.com SIP/2.0\nContact: <sip:caller@host5.example.net>\nTo: sip:j.user@example.com\nFrom: sip:caller@example.net;tag=8392034\n"
"Max-Forwards: 70\nCall-ID: invut.0ha0isndaksdjadsfij34n23d\nCSeq: 235448 INVITE\nVia: SIP/2.0/UDP somehost.example.com;branch=z9hG4bKkdjuw\n"
"Content-Type: application/unknownformat\nContent-Length: 40\n\n<audio>\n <pcmu port=\"443\"/>\n</audio>\n")
M["regaut01"] = ("REGISTER sip:example.com SIP/2.0\nTo: sip:j.user@example.com\nFrom: sip:j.user@example.com;tag=87321hj23128\nMax-Forwards: 8\n"
"Call-ID: regaut01.0ha0isndaksdj\nCSeq: 9338 REGISTER\nVia: SIP/2.0/TCP 192.0.2.253;branch=z9hG4bKkdjuw\n"
"Authorization: NoOneKnowsThisScheme opaque-data=here\nContent-Length:0\n\n")
M["multi01"] = ("INVITE sip:user@company.com SIP/2.0\nContact: <sip:caller@host25.example.net>\nVia: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKkdjuw\n"
"Max-Forwards: 70\nCSeq: 5 INVITE\nCall-ID: multi01.98asdh@192.0.2.1\nCSeq: 59 INVITE\nCall-ID: multi01.98asdh@192.0.2.2\n"
"From: sip:caller@example.com;tag=3413415\nTo: sip:user@example.com\nTo: sip:other@example.net\nFrom: sip:caller@example.net;tag=2923420123\n"
"Content-Type: application/sdp\nl: 154\nContact: <sip:caller@host36.example.net>\nMax-Forwards: 5\n\n" + SDP150.format(h=25) + "\n")
M["mcl01"] = ("OPTIONS sip:user@example.com SIP/2.0\nVia: SIP/2.0/UDP host5.example.net;branch=z9hG4bK293423\nTo: sip:user@example.com\n"
"From: sip:other@example.net;tag=3923942\nCall-ID: mcl01.fhn2323orihawfdoa3o4r52o3irsdf\nCSeq: 15932 OPTIONS\nContent-Length: 13\n"
"Max-Forwards: 60\nContent-Length: 5\nContent-Type: text/plain\n\nThere's no way to know how many octets are supposed to be here.\n")
M["bcast"] = ("SIP/2.0 200 OK\nVia: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923\nVia: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bK1saber23\n"
"Call-ID: bcast.0384840201234ksdfak3j2erwedfsASdf\nCSeq: 35 INVITE\nFrom: sip:user@example.com;tag=11141343\nTo: sip:user@example.edu;tag=2229\n"
"Content-Length: 154\nContent-Type: application/sdp\nContact: <sip:user@host28.example.com>\n\n" + SDP150.format(h=198))
M["zeromf"] = ("OPTIONS sip:user@example.com SIP/2.0\nTo: sip:user@example.com\nFrom: sip:caller@example.net;tag=3ghsd41\n"
"Call-ID: zeromf.jfasdlfnm2o2l43r5u0asdfas\nCSeq: 39234321 OPTIONS\nVia: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw2349i\n"
"Max-Forwards: 0\nContent-Length: 0\n\n")
M["cparam01"] = ("REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw\nMax-Forwards: 70\n"
"From: sip:watson@example.com;tag=DkfVgjkrtMwaerKKpe\nTo: sip:watson@example.com\nCall-ID: cparam01.70710@saturn.example.com\nCSeq: 2 REGISTER\n"
"Contact: sip:+19725552222@gw1.example.net;unknownparam\nl: 0\n\n")
M["cparam02"] = ("REGISTER sip:example.com SIP/2.0\nVia: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKkdjuw\nMax-Forwards: 70\n"
"From: sip:watson@example.com;tag=838293\nTo: sip:watson@example.com\nCall-ID: cparam02.70710@saturn.example.com\nCSeq: 3 REGISTER\n"
"Contact: <sip:+19725552222@gw1.example.net;unknownparam>\nl: 0\n\n")
M["regescrt"] = ("REGISTER sip:example.com SIP/2.0\nTo: sip:user@example.com\nFrom: sip:user@example.com;tag=8\nMax-Forwards: 70\n"
"Call-ID: regescrt.k345asrl3fdbv@192.0.2.1\nCSeq: 14398234 REGISTER\nVia: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw\n"
"M: <sip:user@example.com?Route=%3Csip:sip.example.com%3E>\nL:0\n\n")
M["sdp01"] = ("INVITE sip:user@example.com SIP/2.0\nTo: sip:j_user@example.com\nContact: <sip:caller@host15.example.net>\nFrom: sip:caller@example.net;tag=234\n"
"Max-Forwards: 5\nCall-ID: sdp01.ndaksdj9342dasdd\nAccept: text/nobodyKnowsThis\nCSeq: 8 INVITE\nVia: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw\n"
"Content-Length: 150\nContent-Type: application/sdp\n\n" + SDP150.format(h=5))
M["inv2543"] = ("INVITE sip:UserB@example.com SIP/2.0\nVia: SIP/2.0/UDP iftgw.example.com\nFrom: <sip:+13035551111@ift.client.example.net;user=phone>\n"
"Record-Route: <sip:UserB@example.com;maddr=ss1.example.com>\nTo: sip:+16505552222@ss1.example.net;user=phone\n"
"Call-ID: inv2543.1717@ift.client.example.com\nCSeq: 56 INVITE\nContent-Type: application/sdp\n\n"
"v=0\no=mhandley 29739 7272939 IN IP4 192.0.2.5\ns=-\nc=IN IP4 192.0.2.5\nt=0 0\nm=audio 49217 RTP/AVP 0\n")

here = os.path.dirname(os.path.abspath(__file__))
for name, text in M.items():
    if text is None:
        continue
    data = text.replace("\n", "\r\n").encode("utf-8")
    open(os.path.join(here, name + ".sip"), "wb").write(data)
head = ("MESSAGE sip:kumiko@example.org SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-;rport\n"
"Max-Forwards: 70\nRoute: <sip:127.0.0.1:5080>\nIdentity: r5mwreLuyDRYBi/0TiPwEsY3rEVsk/G2WxhgTV1PF7hHuLIK0YWVKZhKv9Mj8UeXqkMVbnVq37CD+813gvYjcBUaZngQmXc9WNZSDNGCzA+fWl9MEUHWIZo1CeJebdY/XlgKeTa0Olvq0rt70Q5jiSfbqMJmQFteeivUhkMWYUA=\n"
"Contact: <sip:fluffy@127.0.0.1:5070>\nTo: <sip:kumiko@example.org>\nFrom: <sip:fluffy@example.com>;tag=2fb0dcc9\n"
"Call-ID: 3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..\nCSeq: 1 MESSAGE\nContent-Transfer-Encoding: binary\n"
"Content-Type: multipart/mixed;boundary=7a9cbec02ceef655\nDate: Sat, 15 Oct 2005 04:44:56 GMT\nUser-Agent: SIPimp.org/0.2.5 (curses)\n")
body = mp_body_head.replace("\n", "\r\n").encode() + MPART_BIN + b"\r\n--7a9cbec02ceef655--\r\n"
data = (head + "Content-Length: %d\n\n" % len(body)).replace("\n", "\r\n").encode() + body
open(os.path.join(here, "mpart01.sip"), "wb").write(data)
