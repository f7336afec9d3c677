package bill24

import "fmt"

// Code is a Bill24 proxy business code (protocols.md A.4).
type Code int

// The documented proxy codes.
const (
	CodeSuccess            Code = 0
	CodeNotFound           Code = 1
	CodeBillOverdue        Code = 2
	CodeNoAmountToPay      Code = 3
	CodeCurrencyNotAllowed Code = 4
)

// Outcome names a proxy code in the Caddyfile (`when <expr> not_found`).
type Outcome string

// The outcomes a proxy rule can choose.
const (
	OutcomeSuccess            Outcome = "success"
	OutcomeNotFound           Outcome = "not_found"
	OutcomeBillOverdue        Outcome = "bill_overdue"
	OutcomeNoAmountToPay      Outcome = "no_amount_to_pay"
	OutcomeCurrencyNotAllowed Outcome = "currency_not_allowed"
)

// Message is the English and Khmer text of a proxy answer.
type Message struct {
	EN string `json:"en,omitempty"`
	KH string `json:"kh,omitempty"`
}

type outcomeInfo struct {
	code Code
	msg  Message
}

// outcomes holds each outcome's code and default messages. The English texts
// are Bill24's own (response-code-856578m0); the Khmer ones are ours.
var outcomes = map[Outcome]outcomeInfo{
	OutcomeSuccess:            {CodeSuccess, Message{"Success", "ជោគជ័យ"}},
	OutcomeNotFound:           {CodeNotFound, Message{"Error Not Found", "រកមិនឃើញ"}},
	OutcomeBillOverdue:        {CodeBillOverdue, Message{"Error Bill Over Due", "វិក្កយបត្រហួសកាលកំណត់"}},
	OutcomeNoAmountToPay:      {CodeNoAmountToPay, Message{"Error No Amount To Pay", "មិនមានទឹកប្រាក់ត្រូវបង់"}},
	OutcomeCurrencyNotAllowed: {CodeCurrencyNotAllowed, Message{"Error Currency Not Allow", "រូបិយប័ណ្ណមិនត្រូវបានអនុញ្ញាត"}},
}

// Outcomes lists the valid outcome names, in code order.
func Outcomes() []Outcome {
	return []Outcome{OutcomeSuccess, OutcomeNotFound, OutcomeBillOverdue, OutcomeNoAmountToPay, OutcomeCurrencyNotAllowed}
}

// ParseOutcome checks an outcome name.
func ParseOutcome(s string) (Outcome, error) {
	if _, ok := outcomes[Outcome(s)]; !ok {
		return "", fmt.Errorf("unknown outcome %q (want one of success, not_found, bill_overdue, no_amount_to_pay, currency_not_allowed)", s)
	}
	return Outcome(s), nil
}

// Code returns the outcome's Bill24 code.
func (o Outcome) Code() Code { return outcomes[o].code }

// DefaultMessage returns the outcome's default English and Khmer texts.
func (o Outcome) DefaultMessage() Message { return outcomes[o].msg }
