# ruff: noqa: RUF001 -- multilingual prototype sentences.
"""Prototype messages for the embedding side of the message classifiers.

A message is compared with each class's prototypes (cosine of multilingual-e5 embeddings);
its score is how much closer it is to the class than to ordinary support requests
(``OTHER``). The sentences are written to span how people ask for a person and how they
complain, in the supported languages, not copied from any evaluation set; the ``OTHER``
list holds the requests that look most like them without being them ("how do I contact
support?", "I need help with my order").
"""

from __future__ import annotations

HUMAN_REQUEST: tuple[str, ...] = (
    # en
    "I want to talk to a human",
    "Can I speak to a real person please",
    "connect me with a live agent",
    "transfer me to a human representative",
    "I'd like to chat with someone from your team",
    "let me talk to an operator",
    "get me a real person, not a bot",
    "is there a human I can talk to?",
    "I need to speak with customer service staff",
    "put me through to a support agent",
    "stop the bot, I want a person",
    "can you pass me to a manager",
    # es
    "quiero hablar con una persona",
    "pásame con un agente humano",
    "necesito hablar con un asesor",
    # fr
    "je veux parler à un humain",
    "mettez-moi en relation avec un conseiller",
    "puis-je parler à une vraie personne ?",
    # de
    "ich möchte mit einem Menschen sprechen",
    "verbinden Sie mich bitte mit einem Mitarbeiter",
    # it
    "voglio parlare con un operatore",
    "posso parlare con una persona reale?",
    # pt
    "quero falar com um atendente humano",
    "me transfere para uma pessoa de verdade",
    # nl
    "ik wil met een medewerker spreken",
    "kan ik een echt mens spreken?",
    # sv
    "jag vill prata med en människa",
    "koppla mig till en handläggare",
    # da
    "jeg vil gerne tale med et menneske",
    # pl
    "chcę porozmawiać z konsultantem",
    "połącz mnie z człowiekiem",
    # tr
    "bir insanla konuşmak istiyorum",
    "beni müşteri temsilcisine bağlayın",
    # ja
    "人間のオペレーターと話したいです",
    "担当者につないでください",
    # zh
    "我要人工客服",
    "请帮我转接真人客服",
    # ar
    "أريد التحدث مع موظف",
    "حولني إلى شخص حقيقي",
    # ru, hi, id, ko (beyond the lexicon's languages: the model generalises)
    "я хочу поговорить с оператором",
    "मुझे किसी इंसान से बात करनी है",
    "saya ingin berbicara dengan petugas manusia",
    "상담원과 통화하고 싶어요",
)

COMPLAINT: tuple[str, ...] = (
    # en
    "I want to file a complaint",
    "I am very unhappy with your service",
    "this is unacceptable, I am extremely disappointed",
    "your product is terrible and nobody helps me",
    "I've been waiting for weeks and I'm fed up",
    "this is the worst customer service I have ever had",
    "that doesn't help at all, this is useless",
    "I'm really frustrated, nothing works and no one answers",
    "you charged me and never delivered, I'm angry",
    "I want to complain about the rude staff",
    "I am dissatisfied with how my issue was handled",
    "what a waste of time",
    # es
    "quiero poner una queja",
    "estoy muy molesto con su servicio, es pésimo",
    "esto no sirve para nada",
    # fr
    "je souhaite déposer une réclamation",
    "c'est inadmissible, je suis très mécontent",
    "votre service est nul",
    # de
    "ich möchte mich beschweren",
    "das ist eine Frechheit, ich bin sehr verärgert",
    "Ihr Service ist eine Katastrophe",
    # it
    "voglio presentare un reclamo",
    "sono molto deluso dal vostro servizio",
    # pt
    "quero fazer uma reclamação",
    "estou muito insatisfeito, isso é um absurdo",
    # nl
    "ik wil een klacht indienen",
    "ik ben erg ontevreden over jullie service",
    # sv
    "jag vill lämna ett klagomål",
    "det här är helt oacceptabelt",
    # da
    "jeg vil gerne klage",
    "jeg er meget utilfreds med jeres service",
    # pl
    "chcę złożyć reklamację",
    "jestem bardzo niezadowolony z obsługi",
    # tr
    "şikayet etmek istiyorum",
    "hizmetinizden hiç memnun değilim",
    # ja
    "苦情を申し立てたいです",
    "対応がひどすぎます",
    # zh
    "我要投诉",
    "你们的服务太差了",
    # ar
    "أريد تقديم شكوى",
    "خدمتكم سيئة جدا",
    # ru, ko
    "я хочу подать жалобу",
    "서비스가 너무 불만족스럽습니다",
)

OTHER: tuple[str, ...] = (
    # en: ordinary support requests, including the ones closest to the classes above
    "how do I contact customer service?",
    "what is your customer support phone number",
    "what are your support opening hours",
    "I need help with my order",
    "I need assistance cancelling my order",
    "can you help me track my package",
    "where is my order",
    "how do I reset my password",
    "I want to change my shipping address",
    "how do I create an account",
    "I want to delete my account",
    "how can I get an invoice for my purchase",
    "what payment methods do you accept",
    "I want a refund for my last order",
    "how do I return an item",
    "how much does the premium plan cost",
    "do you ship internationally",
    "how do I subscribe to the newsletter",
    "can I change my delivery date",
    "how do I update my billing information",
    "I'd like to speak about my order status",
    "tell me about your products",
    "thank you, that answered my question",
    "hello, I have a question",
    "how can I leave a review",
    "I am a real person, not a robot",
    "how do I install the app",
    "which languages do you support",
    # a few in other languages
    "¿cómo puedo rastrear mi pedido?",
    "comment réinitialiser mon mot de passe ?",
    "wie kann ich meine Bestellung stornieren?",
    "come posso cambiare il mio indirizzo?",
    "como faço para cancelar minha assinatura?",
    "hoe kan ik mijn bestelling volgen?",
    "hur ändrar jag mitt lösenord?",
    "hvordan opdaterer jeg min adresse?",
    "jak mogę zmienić adres dostawy?",
    "siparişimi nasıl iptal ederim?",
    "注文の状況を確認したいです",
    "我怎么修改密码",
    "كيف يمكنني تتبع طلبي؟",
    # things people type that are not support requests at all
    "set a timer for ten minutes",
    "play my favourite playlist",
    "what is the population of Japan",
    "how do I rename a file on Linux",
    "can I sync my notes across devices",
    "what does this error code mean",
    "where can I find the user guide",
    "erinnere mich morgen an den Termin",
    "quelle heure est-il à Tokyo",
    "¿qué tiempo hará mañana?",
    "aggiungi il latte alla lista della spesa",
    "明天会下雨吗",
    "アラームを六時にセットして",
)
