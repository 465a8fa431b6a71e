// The widget's own interface strings. The conversation itself is never translated here:
// visitors, agents and the AI write in whatever language they use.

export interface Strings {
  title: string;
  open: string;
  close: string;
  inputLabel: string;
  placeholder: string;
  send: string;
  you: string;
  assistant: string;
  agent: string;
  support: string;
  sources: string;
  confidence: string;
  talkToPerson: string;
  handoffRequested: string;
  agentJoined: string;
  agentLeft: string;
  typingAssistant: string;
  typingAgent: string;
  offline: string;
  reconnecting: string;
  online: string;
  queued: string;
  sending: string;
  failed: string;
  resolved: string;
  ratePrompt: string;
  rateScore: string;
  commentLabel: string;
  submitRating: string;
  thanks: string;
  unread: string;
  deleteConversation: string;
  deleteConfirm: string;
  deleted: string;
  error: string;
  tooLong: string;
  poweredBy: string;
}

export type StringKey = keyof Strings;

const en: Strings = {
  title: "Chat with us",
  open: "Open chat",
  close: "Close chat",
  inputLabel: "Your message",
  placeholder: "Type your message…",
  send: "Send",
  you: "You",
  assistant: "Assistant",
  agent: "Agent",
  support: "Support",
  sources: "Sources",
  confidence: "Confidence: {n}%",
  talkToPerson: "Talk to a person",
  handoffRequested: "Waiting for a person to join…",
  agentJoined: "{name} joined the conversation",
  agentLeft: "{name} left the conversation",
  typingAssistant: "The assistant is typing…",
  typingAgent: "{name} is typing…",
  offline: "You are offline. Messages will be sent when you are back online.",
  reconnecting: "Reconnecting…",
  online: "Connected",
  queued: "Waiting to send",
  sending: "Sending…",
  failed: "Not sent",
  resolved: "This conversation was marked as resolved.",
  ratePrompt: "How would you rate this conversation?",
  rateScore: "{n} out of 5",
  commentLabel: "Comment (optional)",
  submitRating: "Send rating",
  thanks: "Thank you for your feedback!",
  unread: "{n} unread messages",
  deleteConversation: "Delete conversation",
  deleteConfirm: "Press again to delete",
  deleted: "The conversation was deleted.",
  error: "Something went wrong. Please try again.",
  tooLong: "A message can have at most 4,000 characters.",
  poweredBy: "Powered by Tandem",
};

const es: Strings = {
  title: "Chatea con nosotros",
  open: "Abrir el chat",
  close: "Cerrar el chat",
  inputLabel: "Tu mensaje",
  placeholder: "Escribe tu mensaje…",
  send: "Enviar",
  you: "Tú",
  assistant: "Asistente",
  agent: "Agente",
  support: "Soporte",
  sources: "Fuentes",
  confidence: "Confianza: {n} %",
  talkToPerson: "Hablar con una persona",
  handoffRequested: "Esperando a que se una una persona…",
  agentJoined: "{name} se ha unido a la conversación",
  agentLeft: "{name} ha salido de la conversación",
  typingAssistant: "El asistente está escribiendo…",
  typingAgent: "{name} está escribiendo…",
  offline: "Estás sin conexión. Los mensajes se enviarán cuando vuelvas a estar en línea.",
  reconnecting: "Reconectando…",
  online: "Conectado",
  queued: "Pendiente de envío",
  sending: "Enviando…",
  failed: "No enviado",
  resolved: "Esta conversación se ha marcado como resuelta.",
  ratePrompt: "¿Cómo valorarías esta conversación?",
  rateScore: "{n} de 5",
  commentLabel: "Comentario (opcional)",
  submitRating: "Enviar valoración",
  thanks: "¡Gracias por tu opinión!",
  unread: "{n} mensajes sin leer",
  deleteConversation: "Eliminar la conversación",
  deleteConfirm: "Pulsa de nuevo para eliminar",
  deleted: "Se ha eliminado la conversación.",
  error: "Algo ha ido mal. Inténtalo de nuevo.",
  tooLong: "Un mensaje puede tener como máximo 4000 caracteres.",
  poweredBy: "Con la tecnología de Tandem",
};

const fr: Strings = {
  title: "Discutez avec nous",
  open: "Ouvrir le chat",
  close: "Fermer le chat",
  inputLabel: "Votre message",
  placeholder: "Écrivez votre message…",
  send: "Envoyer",
  you: "Vous",
  assistant: "Assistant",
  agent: "Conseiller",
  support: "Support",
  sources: "Sources",
  confidence: "Confiance : {n} %",
  talkToPerson: "Parler à une personne",
  handoffRequested: "En attente d’un conseiller…",
  agentJoined: "{name} a rejoint la conversation",
  agentLeft: "{name} a quitté la conversation",
  typingAssistant: "L’assistant écrit…",
  typingAgent: "{name} écrit…",
  offline: "Vous êtes hors ligne. Vos messages seront envoyés dès le retour de la connexion.",
  reconnecting: "Reconnexion…",
  online: "Connecté",
  queued: "En attente d’envoi",
  sending: "Envoi…",
  failed: "Non envoyé",
  resolved: "Cette conversation a été marquée comme résolue.",
  ratePrompt: "Comment évaluez-vous cette conversation ?",
  rateScore: "{n} sur 5",
  commentLabel: "Commentaire (facultatif)",
  submitRating: "Envoyer la note",
  thanks: "Merci pour votre avis !",
  unread: "{n} messages non lus",
  deleteConversation: "Supprimer la conversation",
  deleteConfirm: "Appuyez à nouveau pour supprimer",
  deleted: "La conversation a été supprimée.",
  error: "Une erreur s’est produite. Veuillez réessayer.",
  tooLong: "Un message peut contenir au plus 4 000 caractères.",
  poweredBy: "Propulsé par Tandem",
};

const de: Strings = {
  title: "Chatten Sie mit uns",
  open: "Chat öffnen",
  close: "Chat schließen",
  inputLabel: "Ihre Nachricht",
  placeholder: "Nachricht eingeben…",
  send: "Senden",
  you: "Sie",
  assistant: "Assistent",
  agent: "Mitarbeiter",
  support: "Support",
  sources: "Quellen",
  confidence: "Sicherheit: {n} %",
  talkToPerson: "Mit einem Menschen sprechen",
  handoffRequested: "Wir verbinden Sie mit einer Person…",
  agentJoined: "{name} ist dem Gespräch beigetreten",
  agentLeft: "{name} hat das Gespräch verlassen",
  typingAssistant: "Der Assistent schreibt…",
  typingAgent: "{name} schreibt…",
  offline: "Sie sind offline. Nachrichten werden gesendet, sobald Sie wieder online sind.",
  reconnecting: "Verbindung wird wiederhergestellt…",
  online: "Verbunden",
  queued: "Wartet auf Versand",
  sending: "Wird gesendet…",
  failed: "Nicht gesendet",
  resolved: "Dieses Gespräch wurde als gelöst markiert.",
  ratePrompt: "Wie bewerten Sie dieses Gespräch?",
  rateScore: "{n} von 5",
  commentLabel: "Kommentar (optional)",
  submitRating: "Bewertung senden",
  thanks: "Vielen Dank für Ihr Feedback!",
  unread: "{n} ungelesene Nachrichten",
  deleteConversation: "Gespräch löschen",
  deleteConfirm: "Zum Löschen erneut drücken",
  deleted: "Das Gespräch wurde gelöscht.",
  error: "Etwas ist schiefgelaufen. Bitte versuchen Sie es erneut.",
  tooLong: "Eine Nachricht darf höchstens 4.000 Zeichen lang sein.",
  poweredBy: "Bereitgestellt von Tandem",
};

const it: Strings = {
  title: "Chatta con noi",
  open: "Apri la chat",
  close: "Chiudi la chat",
  inputLabel: "Il tuo messaggio",
  placeholder: "Scrivi il tuo messaggio…",
  send: "Invia",
  you: "Tu",
  assistant: "Assistente",
  agent: "Operatore",
  support: "Assistenza",
  sources: "Fonti",
  confidence: "Affidabilità: {n}%",
  talkToPerson: "Parla con una persona",
  handoffRequested: "In attesa di un operatore…",
  agentJoined: "{name} si è unito alla conversazione",
  agentLeft: "{name} ha lasciato la conversazione",
  typingAssistant: "L’assistente sta scrivendo…",
  typingAgent: "{name} sta scrivendo…",
  offline: "Sei offline. I messaggi verranno inviati quando tornerai online.",
  reconnecting: "Riconnessione…",
  online: "Connesso",
  queued: "In attesa di invio",
  sending: "Invio…",
  failed: "Non inviato",
  resolved: "Questa conversazione è stata contrassegnata come risolta.",
  ratePrompt: "Come valuteresti questa conversazione?",
  rateScore: "{n} su 5",
  commentLabel: "Commento (facoltativo)",
  submitRating: "Invia valutazione",
  thanks: "Grazie per il tuo feedback!",
  unread: "{n} messaggi non letti",
  deleteConversation: "Elimina la conversazione",
  deleteConfirm: "Premi di nuovo per eliminare",
  deleted: "La conversazione è stata eliminata.",
  error: "Qualcosa è andato storto. Riprova.",
  tooLong: "Un messaggio può contenere al massimo 4.000 caratteri.",
  poweredBy: "Realizzato con Tandem",
};

const pt: Strings = {
  title: "Fale conosco",
  open: "Abrir o chat",
  close: "Fechar o chat",
  inputLabel: "Sua mensagem",
  placeholder: "Digite sua mensagem…",
  send: "Enviar",
  you: "Você",
  assistant: "Assistente",
  agent: "Atendente",
  support: "Suporte",
  sources: "Fontes",
  confidence: "Confiança: {n}%",
  talkToPerson: "Falar com uma pessoa",
  handoffRequested: "Aguardando um atendente…",
  agentJoined: "{name} entrou na conversa",
  agentLeft: "{name} saiu da conversa",
  typingAssistant: "O assistente está digitando…",
  typingAgent: "{name} está digitando…",
  offline: "Você está offline. As mensagens serão enviadas quando a conexão voltar.",
  reconnecting: "Reconectando…",
  online: "Conectado",
  queued: "Aguardando envio",
  sending: "Enviando…",
  failed: "Não enviada",
  resolved: "Esta conversa foi marcada como resolvida.",
  ratePrompt: "Como você avalia esta conversa?",
  rateScore: "{n} de 5",
  commentLabel: "Comentário (opcional)",
  submitRating: "Enviar avaliação",
  thanks: "Obrigado pela sua avaliação!",
  unread: "{n} mensagens não lidas",
  deleteConversation: "Excluir a conversa",
  deleteConfirm: "Pressione novamente para excluir",
  deleted: "A conversa foi excluída.",
  error: "Algo deu errado. Tente novamente.",
  tooLong: "Uma mensagem pode ter no máximo 4.000 caracteres.",
  poweredBy: "Desenvolvido com Tandem",
};

const nl: Strings = {
  title: "Chat met ons",
  open: "Chat openen",
  close: "Chat sluiten",
  inputLabel: "Je bericht",
  placeholder: "Typ je bericht…",
  send: "Versturen",
  you: "Jij",
  assistant: "Assistent",
  agent: "Medewerker",
  support: "Support",
  sources: "Bronnen",
  confidence: "Betrouwbaarheid: {n}%",
  talkToPerson: "Met een persoon praten",
  handoffRequested: "Wachten op een medewerker…",
  agentJoined: "{name} neemt deel aan het gesprek",
  agentLeft: "{name} heeft het gesprek verlaten",
  typingAssistant: "De assistent typt…",
  typingAgent: "{name} typt…",
  offline: "Je bent offline. Berichten worden verstuurd zodra je weer online bent.",
  reconnecting: "Opnieuw verbinden…",
  online: "Verbonden",
  queued: "Wacht op verzending",
  sending: "Versturen…",
  failed: "Niet verstuurd",
  resolved: "Dit gesprek is als opgelost gemarkeerd.",
  ratePrompt: "Hoe beoordeel je dit gesprek?",
  rateScore: "{n} van 5",
  commentLabel: "Opmerking (optioneel)",
  submitRating: "Beoordeling versturen",
  thanks: "Bedankt voor je feedback!",
  unread: "{n} ongelezen berichten",
  deleteConversation: "Gesprek verwijderen",
  deleteConfirm: "Druk nogmaals om te verwijderen",
  deleted: "Het gesprek is verwijderd.",
  error: "Er is iets misgegaan. Probeer het opnieuw.",
  tooLong: "Een bericht mag maximaal 4.000 tekens bevatten.",
  poweredBy: "Mogelijk gemaakt door Tandem",
};

const sv: Strings = {
  title: "Chatta med oss",
  open: "Öppna chatten",
  close: "Stäng chatten",
  inputLabel: "Ditt meddelande",
  placeholder: "Skriv ditt meddelande…",
  send: "Skicka",
  you: "Du",
  assistant: "Assistent",
  agent: "Medarbetare",
  support: "Support",
  sources: "Källor",
  confidence: "Säkerhet: {n} %",
  talkToPerson: "Prata med en person",
  handoffRequested: "Väntar på att en person ansluter…",
  agentJoined: "{name} anslöt till konversationen",
  agentLeft: "{name} lämnade konversationen",
  typingAssistant: "Assistenten skriver…",
  typingAgent: "{name} skriver…",
  offline: "Du är offline. Meddelanden skickas när du är online igen.",
  reconnecting: "Återansluter…",
  online: "Ansluten",
  queued: "Väntar på att skickas",
  sending: "Skickar…",
  failed: "Inte skickat",
  resolved: "Den här konversationen har markerats som löst.",
  ratePrompt: "Hur skulle du betygsätta den här konversationen?",
  rateScore: "{n} av 5",
  commentLabel: "Kommentar (valfritt)",
  submitRating: "Skicka betyg",
  thanks: "Tack för din feedback!",
  unread: "{n} olästa meddelanden",
  deleteConversation: "Radera konversationen",
  deleteConfirm: "Tryck igen för att radera",
  deleted: "Konversationen har raderats.",
  error: "Något gick fel. Försök igen.",
  tooLong: "Ett meddelande får innehålla högst 4 000 tecken.",
  poweredBy: "Drivs av Tandem",
};

const da: Strings = {
  title: "Chat med os",
  open: "Åbn chatten",
  close: "Luk chatten",
  inputLabel: "Din besked",
  placeholder: "Skriv din besked…",
  send: "Send",
  you: "Dig",
  assistant: "Assistent",
  agent: "Medarbejder",
  support: "Support",
  sources: "Kilder",
  confidence: "Sikkerhed: {n} %",
  talkToPerson: "Tal med en person",
  handoffRequested: "Venter på, at en person deltager…",
  agentJoined: "{name} deltager nu i samtalen",
  agentLeft: "{name} har forladt samtalen",
  typingAssistant: "Assistenten skriver…",
  typingAgent: "{name} skriver…",
  offline: "Du er offline. Beskeder sendes, når du er online igen.",
  reconnecting: "Genopretter forbindelsen…",
  online: "Forbundet",
  queued: "Venter på at blive sendt",
  sending: "Sender…",
  failed: "Ikke sendt",
  resolved: "Denne samtale er markeret som løst.",
  ratePrompt: "Hvordan vil du bedømme denne samtale?",
  rateScore: "{n} ud af 5",
  commentLabel: "Kommentar (valgfri)",
  submitRating: "Send bedømmelse",
  thanks: "Tak for din feedback!",
  unread: "{n} ulæste beskeder",
  deleteConversation: "Slet samtalen",
  deleteConfirm: "Tryk igen for at slette",
  deleted: "Samtalen er slettet.",
  error: "Noget gik galt. Prøv igen.",
  tooLong: "En besked må højst være på 4.000 tegn.",
  poweredBy: "Drevet af Tandem",
};

const pl: Strings = {
  title: "Porozmawiaj z nami",
  open: "Otwórz czat",
  close: "Zamknij czat",
  inputLabel: "Twoja wiadomość",
  placeholder: "Napisz wiadomość…",
  send: "Wyślij",
  you: "Ty",
  assistant: "Asystent",
  agent: "Konsultant",
  support: "Pomoc",
  sources: "Źródła",
  confidence: "Pewność: {n}%",
  talkToPerson: "Porozmawiaj z człowiekiem",
  handoffRequested: "Czekamy na konsultanta…",
  agentJoined: "{name} dołącza do rozmowy",
  agentLeft: "{name} opuszcza rozmowę",
  typingAssistant: "Asystent pisze…",
  typingAgent: "{name} pisze…",
  offline: "Jesteś offline. Wiadomości zostaną wysłane po przywróceniu połączenia.",
  reconnecting: "Ponowne łączenie…",
  online: "Połączono",
  queued: "Oczekuje na wysłanie",
  sending: "Wysyłanie…",
  failed: "Nie wysłano",
  resolved: "Ta rozmowa została oznaczona jako rozwiązana.",
  ratePrompt: "Jak oceniasz tę rozmowę?",
  rateScore: "{n} z 5",
  commentLabel: "Komentarz (opcjonalnie)",
  submitRating: "Wyślij ocenę",
  thanks: "Dziękujemy za opinię!",
  unread: "Nieprzeczytane wiadomości: {n}",
  deleteConversation: "Usuń rozmowę",
  deleteConfirm: "Naciśnij ponownie, aby usunąć",
  deleted: "Rozmowa została usunięta.",
  error: "Coś poszło nie tak. Spróbuj ponownie.",
  tooLong: "Wiadomość może mieć najwyżej 4000 znaków.",
  poweredBy: "Działa dzięki Tandem",
};

const tr: Strings = {
  title: "Bizimle sohbet edin",
  open: "Sohbeti aç",
  close: "Sohbeti kapat",
  inputLabel: "Mesajınız",
  placeholder: "Mesajınızı yazın…",
  send: "Gönder",
  you: "Siz",
  assistant: "Asistan",
  agent: "Temsilci",
  support: "Destek",
  sources: "Kaynaklar",
  confidence: "Güven: %{n}",
  talkToPerson: "Bir kişiyle konuşun",
  handoffRequested: "Bir temsilcinin katılması bekleniyor…",
  agentJoined: "{name} sohbete katıldı",
  agentLeft: "{name} sohbetten ayrıldı",
  typingAssistant: "Asistan yazıyor…",
  typingAgent: "{name} yazıyor…",
  offline: "Çevrimdışısınız. Mesajlar yeniden çevrimiçi olduğunuzda gönderilecek.",
  reconnecting: "Yeniden bağlanılıyor…",
  online: "Bağlandı",
  queued: "Gönderilmeyi bekliyor",
  sending: "Gönderiliyor…",
  failed: "Gönderilemedi",
  resolved: "Bu sohbet çözüldü olarak işaretlendi.",
  ratePrompt: "Bu sohbeti nasıl değerlendirirsiniz?",
  rateScore: "5 üzerinden {n}",
  commentLabel: "Yorum (isteğe bağlı)",
  submitRating: "Değerlendirmeyi gönder",
  thanks: "Geri bildiriminiz için teşekkürler!",
  unread: "{n} okunmamış mesaj",
  deleteConversation: "Sohbeti sil",
  deleteConfirm: "Silmek için tekrar basın",
  deleted: "Sohbet silindi.",
  error: "Bir sorun oluştu. Lütfen tekrar deneyin.",
  tooLong: "Bir mesaj en fazla 4.000 karakter olabilir.",
  poweredBy: "Tandem tarafından desteklenmektedir",
};

const ja: Strings = {
  title: "チャットでお問い合わせ",
  open: "チャットを開く",
  close: "チャットを閉じる",
  inputLabel: "メッセージ",
  placeholder: "メッセージを入力…",
  send: "送信",
  you: "あなた",
  assistant: "アシスタント",
  agent: "担当者",
  support: "サポート",
  sources: "参照元",
  confidence: "信頼度: {n}%",
  talkToPerson: "担当者と話す",
  handoffRequested: "担当者の参加を待っています…",
  agentJoined: "{name}が会話に参加しました",
  agentLeft: "{name}が会話から退出しました",
  typingAssistant: "アシスタントが入力中…",
  typingAgent: "{name}が入力中…",
  offline: "オフラインです。オンラインに戻るとメッセージが送信されます。",
  reconnecting: "再接続しています…",
  online: "接続済み",
  queued: "送信待ち",
  sending: "送信中…",
  failed: "送信できませんでした",
  resolved: "この会話は解決済みになりました。",
  ratePrompt: "この会話を評価してください",
  rateScore: "5段階中{n}",
  commentLabel: "コメント（任意）",
  submitRating: "評価を送信",
  thanks: "フィードバックをありがとうございます！",
  unread: "未読メッセージ{n}件",
  deleteConversation: "会話を削除",
  deleteConfirm: "もう一度押すと削除します",
  deleted: "会話を削除しました。",
  error: "問題が発生しました。もう一度お試しください。",
  tooLong: "メッセージは4,000文字以内で入力してください。",
  poweredBy: "Powered by Tandem",
};

const zh: Strings = {
  title: "与我们聊天",
  open: "打开聊天",
  close: "关闭聊天",
  inputLabel: "您的消息",
  placeholder: "输入您的消息…",
  send: "发送",
  you: "您",
  assistant: "助手",
  agent: "客服",
  support: "支持",
  sources: "来源",
  confidence: "置信度：{n}%",
  talkToPerson: "转人工客服",
  handoffRequested: "正在等待人工客服加入…",
  agentJoined: "{name} 加入了对话",
  agentLeft: "{name} 离开了对话",
  typingAssistant: "助手正在输入…",
  typingAgent: "{name} 正在输入…",
  offline: "您已离线。恢复联网后将发送消息。",
  reconnecting: "正在重新连接…",
  online: "已连接",
  queued: "等待发送",
  sending: "正在发送…",
  failed: "未发送",
  resolved: "此对话已标记为已解决。",
  ratePrompt: "您如何评价此次对话？",
  rateScore: "{n} 分（满分 5 分）",
  commentLabel: "评论（可选）",
  submitRating: "提交评分",
  thanks: "感谢您的反馈！",
  unread: "{n} 条未读消息",
  deleteConversation: "删除对话",
  deleteConfirm: "再按一次以删除",
  deleted: "对话已删除。",
  error: "出现问题，请重试。",
  tooLong: "每条消息最多 4000 个字符。",
  poweredBy: "由 Tandem 提供支持",
};

const ar: Strings = {
  title: "تحدث معنا",
  open: "فتح المحادثة",
  close: "إغلاق المحادثة",
  inputLabel: "رسالتك",
  placeholder: "اكتب رسالتك…",
  send: "إرسال",
  you: "أنت",
  assistant: "المساعد",
  agent: "موظف الدعم",
  support: "الدعم",
  sources: "المصادر",
  confidence: "مستوى الثقة: {n}٪",
  talkToPerson: "التحدث إلى شخص",
  handoffRequested: "في انتظار انضمام أحد الموظفين…",
  agentJoined: "انضم {name} إلى المحادثة",
  agentLeft: "غادر {name} المحادثة",
  typingAssistant: "المساعد يكتب…",
  typingAgent: "{name} يكتب…",
  offline: "أنت غير متصل. سيتم إرسال الرسائل عند عودة الاتصال.",
  reconnecting: "جارٍ إعادة الاتصال…",
  online: "متصل",
  queued: "في انتظار الإرسال",
  sending: "جارٍ الإرسال…",
  failed: "لم يتم الإرسال",
  resolved: "تم وضع علامة على هذه المحادثة بأنها محلولة.",
  ratePrompt: "كيف تقيّم هذه المحادثة؟",
  rateScore: "{n} من 5",
  commentLabel: "تعليق (اختياري)",
  submitRating: "إرسال التقييم",
  thanks: "شكرًا لملاحظاتك!",
  unread: "رسائل غير مقروءة: {n}",
  deleteConversation: "حذف المحادثة",
  deleteConfirm: "اضغط مرة أخرى للحذف",
  deleted: "تم حذف المحادثة.",
  error: "حدث خطأ ما. يرجى المحاولة مرة أخرى.",
  tooLong: "يمكن أن تحتوي الرسالة على 4000 حرف كحد أقصى.",
  poweredBy: "مدعوم من Tandem",
};

export const CATALOG: Readonly<Record<string, Strings>> = {
  en, es, fr, de, it, pt, nl, sv, da, pl, tr, ja, zh, ar,
};

const RIGHT_TO_LEFT = new Set(["ar"]);

export const isRightToLeft = (locale: string): boolean => RIGHT_TO_LEFT.has(locale);

/**
 * The first supported language among the page's explicit choice and the browser's
 * preferences ("pt-BR" → "pt", "zh-Hans-CN" → "zh"); English when none is supported.
 */
export function pickLocale(explicit: string | null, preferred: readonly string[]): string {
  const candidates = explicit ? [explicit, ...preferred] : preferred;
  for (const candidate of candidates) {
    const language = String(candidate).toLowerCase().split(/[-_]/)[0];
    if (Object.prototype.hasOwnProperty.call(CATALOG, language)) return language;
  }
  return "en";
}

/**
 * The strings for ``locale`` with the site's own wording laid over them. Only known keys
 * with string values are taken; anything else the site sends is ignored.
 */
export function stringsFor(locale: string, overrides: unknown): Strings {
  const merged: Strings = { ...(CATALOG[locale] ?? en) };
  if (overrides && typeof overrides === "object") {
    const forLocale = (overrides as Record<string, unknown>)[locale];
    if (forLocale && typeof forLocale === "object") {
      for (const [key, value] of Object.entries(forLocale as Record<string, unknown>)) {
        if (Object.prototype.hasOwnProperty.call(en, key) && typeof value === "string" && value) {
          merged[key as StringKey] = value;
        }
      }
    }
  }
  return merged;
}

/** Fills ``{name}``-style slots; the result is only ever used as text, never as markup. */
export function format(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (slot, name: string) =>
    Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : slot,
  );
}
