// Scripted conversations for the evaluation harness. Each planted fact names the words a prompt
// must contain (case-insensitive, all of them; "a|b" accepts either) for the fact to count as remembered.
import type { WindowTranscript } from "../types.ts"

export interface PlantedFact {
  readonly id: string
  /** The window in which the fact is said. */
  readonly window: number
  readonly kind: "name" | "number" | "commitment" | "preference" | "open-topic"
  readonly mustContain: ReadonlyArray<string>
}

export interface Scenario {
  readonly name: string
  readonly basePersona: string
  readonly windows: ReadonlyArray<Omit<WindowTranscript, "index">>
  readonly facts: ReadonlyArray<PlantedFact>
  /** Windows without planted facts, cycled when a run asks for more rounds than the script has. */
  readonly filler: ReadonlyArray<Omit<WindowTranscript, "index">>
}

const dentalClinic: Scenario = {
  name: "dental-clinic",
  basePersona:
    "You work for Brightline Dental which is a dental clinic and your name is Maya. Information: The clinic is open Monday to Friday from 8 am to 6 pm.",
  windows: [
    {
      userText:
        "Hi, yes, hello. My name is Daniel Okafor and I'm calling because I have a pretty bad toothache.",
      agentText:
        "Hello Daniel, thanks for calling Brightline Dental. I'm sorry to hear about the toothache. Can you tell me where it hurts?",
    },
    {
      userText:
        "It's my lower left molar, it started about three days ago. My patient number is 48213 if that helps.",
      agentText:
        "Thank you, I found your file with patient number 48213. Pain in a molar for three days should be looked at soon.",
    },
    {
      userText: "Okay. Do you have anything this week? I work mornings so afternoons are better for me.",
      agentText:
        "Let me check the calendar. I'll book you for Thursday at 3 pm with Doctor Alvarez. Does that work?",
    },
    {
      userText: "Thursday at three is perfect. Oh, and my insurance changed, it's Delta Shield now.",
      agentText:
        "Got it, I've noted Delta Shield as your new insurer. I will email the intake forms to you today.",
    },
    {
      userText:
        "Great. One more thing, can I pay the rest in installments? I'm not sure how much it will cost.",
      agentText:
        "That's a good question, I need to check with billing about installments before I can answer.",
    },
  ],
  facts: [
    { id: "caller-name", window: 0, kind: "name", mustContain: ["Daniel"] },
    { id: "tooth", window: 1, kind: "preference", mustContain: ["molar"] },
    { id: "patient-number", window: 1, kind: "number", mustContain: ["48213"] },
    { id: "appointment", window: 2, kind: "commitment", mustContain: ["Thursday", "3 pm|3pm|3:00|three"] },
    { id: "dentist", window: 2, kind: "name", mustContain: ["Alvarez"] },
    { id: "insurance", window: 3, kind: "name", mustContain: ["Delta Shield"] },
    { id: "intake-forms", window: 3, kind: "commitment", mustContain: ["email", "forms"] },
    { id: "installments", window: 4, kind: "open-topic", mustContain: ["installments"] },
  ],
  filler: [
    {
      userText: "Yeah, okay. Sounds good to me.",
      agentText: "Wonderful. Is there anything else I can help you with today?",
    },
    {
      userText: "Not really, it's just been a long week, you know how it is.",
      agentText:
        "Oh I understand completely, some weeks just feel endless. Hopefully the weekend is relaxing for you.",
    },
    {
      userText: "Hmm, yeah, hopefully. The weather has been nice at least.",
      agentText: "It really has been lovely outside lately.",
    },
  ],
}

const travelChat: Scenario = {
  name: "travel-chat",
  basePersona:
    "You enjoy having a good conversation. Have a casual chat with the user about travel and food.",
  windows: [
    {
      userText: "So I'm finally going to Lisbon in June! I've wanted to go for years.",
      agentText: "Oh that's exciting, Lisbon in June is beautiful. Is it your first time in Portugal?",
    },
    {
      userText: "First time, yes. I'm going with my sister Priya, she's the one who plans everything.",
      agentText:
        "It's great to travel with someone who loves planning. Priya sounds like the perfect travel partner.",
    },
    {
      userText: "Ha, she is. Our budget is about 1200 euros each for the whole week, hotels included.",
      agentText: "1200 euros for a week is doable in Lisbon if you pick a guesthouse in Alfama or Graça.",
    },
    {
      userText: "I'm vegetarian by the way, so I'm a bit worried about the food.",
      agentText:
        "Don't worry, Lisbon has good vegetarian places now. I'll recommend three restaurants next time we talk.",
    },
    {
      userText: "Perfect. Also, how do we get from Lisbon to Porto? Is the train worth it?",
      agentText: "Good question, there are a few options and it depends on your dates.",
    },
  ],
  facts: [
    { id: "destination", window: 0, kind: "name", mustContain: ["Lisbon"] },
    { id: "month", window: 0, kind: "number", mustContain: ["June"] },
    { id: "sister", window: 1, kind: "name", mustContain: ["Priya"] },
    { id: "budget", window: 2, kind: "number", mustContain: ["1200"] },
    { id: "vegetarian", window: 3, kind: "preference", mustContain: ["vegetarian"] },
    { id: "restaurants", window: 3, kind: "commitment", mustContain: ["three restaurants"] },
    { id: "porto-train", window: 4, kind: "open-topic", mustContain: ["Porto"] },
  ],
  filler: [
    {
      userText: "Haha, right. Anyway what did you do today?",
      agentText:
        "Oh, nothing special, just enjoying our chat really. Tell me more about what you like doing on holiday.",
    },
    {
      userText: "Mostly walking around and eating, honestly.",
      agentText: "That's the best way to see a city, just wander and snack.",
    },
    {
      userText: "Yeah, totally. I also like just sitting in a park and reading.",
      agentText: "That sounds so relaxing, a good book and some sunshine is hard to beat.",
    },
  ],
}

const tutoring: Scenario = {
  name: "math-tutoring",
  basePersona:
    "You are a wise and friendly teacher. Answer questions or provide advice in a clear and engaging way.",
  windows: [
    {
      userText: "Hi, I'm Tomás, I need help with quadratic equations. My exam is on March 14.",
      agentText:
        "Hi Tomás, happy to help. Quadratic equations are very learnable, we have time before March 14.",
    },
    {
      userText: "I got 72 on my last test and I want at least 85 this time.",
      agentText: "Going from 72 to 85 is a realistic goal if we practise a little every day.",
    },
    {
      userText: "I always mix up the signs in the quadratic formula.",
      agentText: "That's very common. Next time we'll practise the discriminant so the signs make sense.",
    },
    {
      userText: "And what's the deal with completing the square? Why would I ever use that?",
      agentText:
        "Great question, completing the square is how the formula is derived, so it is worth understanding.",
    },
  ],
  facts: [
    { id: "student-name", window: 0, kind: "name", mustContain: ["Tomás|Tomas"] },
    { id: "exam-date", window: 0, kind: "number", mustContain: ["March 14"] },
    { id: "last-score", window: 1, kind: "number", mustContain: ["72"] },
    { id: "target-score", window: 1, kind: "number", mustContain: ["85"] },
    { id: "discriminant", window: 2, kind: "commitment", mustContain: ["discriminant"] },
    { id: "completing-square", window: 3, kind: "open-topic", mustContain: ["completing the square"] },
  ],
  filler: [
    {
      userText: "Okay, cool. Makes sense I guess.",
      agentText: "Good, take your time, there is no rush at all.",
    },
    {
      userText: "Math is just hard sometimes, you know?",
      agentText: "It really can be, and feeling stuck is part of learning. Everyone goes through it.",
    },
    { userText: "Yeah. Thanks for being patient.", agentText: "Of course, that's what I'm here for." },
  ],
}

export const SCENARIOS: ReadonlyArray<Scenario> = [dentalClinic, travelChat, tutoring]

/** The scenario's windows for `rounds` rounds: the script first, then its filler, cycled. */
export const scenarioWindows = (scenario: Scenario, rounds: number): Array<WindowTranscript> =>
  Array.from({ length: rounds }, (_, index) => {
    const scripted = scenario.windows[index]
    const w = scripted ?? scenario.filler[(index - scenario.windows.length) % scenario.filler.length]!
    return { index, ...w }
  })

export const factSurvives = (fact: PlantedFact, prompt: string): boolean => {
  const text = prompt.toLowerCase()
  return fact.mustContain.every((word) =>
    word.split("|").some((alternative) => text.includes(alternative.toLowerCase())),
  )
}
